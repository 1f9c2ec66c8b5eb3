import { PageHeader } from '../components/ui'

export function Unavailable({ title, service }: { title: string; service: string }) {
  return (
    <section>
      <PageHeader title={title} />
      <p className="note">This page needs the {service}, which this installation does not run yet.</p>
    </section>
  )
}
