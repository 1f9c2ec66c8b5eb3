import { useState, type FormEvent } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, unwrap } from '../api/client'
import { Empty, ErrorNote, Field, PageHeader } from '../components/ui'
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
      return queryClient.invalidateQueries({ queryKey: ['users'] })
    },
  })
  const errors = fieldErrors(create.error, ['username', 'password', 'role'])

  function submit(event: FormEvent) {
    event.preventDefault()
    create.mutate()
  }

  return (
    <section>
      <PageHeader title="Users" />
      <form className="card" onSubmit={submit} aria-labelledby="user-title" noValidate>
        <h2 id="user-title">Add a user</h2>
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
        {Object.keys(errors).length ? null : <ErrorNote error={create.error} />}
        <button type="submit" disabled={create.isPending}>
          Add user
        </button>
        {create.data ? (
          <p className="note" role="status">
            Added {create.data.username}.
          </p>
        ) : null}
      </form>
      <ErrorNote error={users.error} />
      {users.data && users.data.length === 0 ? <Empty>No users.</Empty> : null}
      {users.data && users.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Users</caption>
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">Active</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id}>
                  <td data-label="Username">{u.username}</td>
                  <td data-label="Role">{u.role}</td>
                  <td data-label="Active">{u.is_active ? 'yes' : 'no'}</td>
                  <td data-label="Created">{new Date(u.created_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  )
}
