import { useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { refreshAfterWrite } from '../queryClient'
import { api, unwrap } from '../api/client'
import { DataTable, ErrorNote, Field, FormCard, FormError, PageHeader, StatusNote } from '../components/ui'
import { fieldErrors } from '../lib/errors'

export function UsersPage() {
  const queryClient = useQueryClient()
  const users = useQuery({ queryKey: ['users'], queryFn: async () => unwrap(await api.GET('/users', { params: { query: { limit: 1000 } } })) })
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [role, setRole] = useState<'user' | 'admin'>('user')
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/users', { body: { username, password, role } })),
    onSuccess: () => {
      setUsername('')
      setPassword('')
      return refreshAfterWrite(queryClient, ['users'])
    },
  })
  const errors = fieldErrors(create.error, ['username', 'password', 'role'])

  return (
    <section>
      <PageHeader title="Users" />
      <FormCard id="user-title" title="Add a user" onSubmit={() => create.mutate()}>
        <div className="row">
          <Field label="Username" htmlFor="user-name" error={errors.username}>
            <input id="user-name" autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} aria-invalid={!!errors.username} />
          </Field>
          <Field label="Password" htmlFor="user-password" error={errors.password} hint="At least 12 characters">
            <input id="user-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} aria-invalid={!!errors.password} />
          </Field>
          <Field label="Role" htmlFor="user-role">
            <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as 'user' | 'admin')}>
              <option value="user">user</option>
              <option value="admin">admin</option>
            </select>
          </Field>
        </div>
        <FormError error={create.error} fieldErrors={errors} />
        <button type="submit" disabled={create.isPending}>
          Add user
        </button>
        {create.data ? <StatusNote>Added {create.data.username}.</StatusNote> : null}
      </FormCard>
      <ErrorNote error={users.error} />
      <DataTable
        caption="Users"
        rows={users.data}
        rowKey={(u) => u.id}
        empty="No users."
        columns={[
          { label: 'Username', cell: (u) => u.username },
          { label: 'Role', cell: (u) => u.role },
          { label: 'Active', cell: (u) => (u.is_active ? 'yes' : 'no') },
          { label: 'Created', cell: (u) => new Date(u.created_at).toLocaleString() },
        ]}
      />
    </section>
  )
}
