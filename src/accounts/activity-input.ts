import { z } from 'zod'

/**
 * What the API accepts for an activity: an email, a task, an event, a document or a case.
 * Each kind has its own fields (columns, so they can be filtered); the kind never changes.
 */
export const ActivityKind = ['email', 'task', 'event', 'document', 'case'] as const
export type ActivityKind = (typeof ActivityKind)[number]
export const TaskStatus = ['open', 'done', 'cancelled'] as const
export const CaseStatus = ['open', 'pending', 'closed'] as const
export const CasePriority = ['low', 'normal', 'high', 'urgent'] as const

const Instant = z.iso.datetime({ offset: true })
const Fields = {
  email: {
    subject: z.string().trim().min(1).max(500).describe('Subject line'),
    body: z.string().max(100_000).nullable().describe('The message text'),
    from: z.email().max(320).nullable().describe('Sender address'),
    to: z.array(z.email().max(320)).max(100).describe('Recipient addresses'),
  },
  task: {
    subject: z.string().trim().min(1).max(500).describe('What is to be done'),
    body: z.string().max(100_000).nullable().describe('Details'),
    due_at: Instant.nullable().describe('When it is due (ISO 8601 with offset)'),
    status: z.enum(TaskStatus).describe('open, done or cancelled'),
  },
  event: {
    subject: z.string().trim().min(1).max(500).describe('What the meeting or call is about'),
    body: z.string().max(100_000).nullable().describe('Agenda or minutes'),
    starts_at: Instant.describe('Start (ISO 8601 with offset)'),
    ends_at: Instant.describe('End (ISO 8601 with offset), not before starts_at'),
  },
  document: {
    name: z.string().trim().min(1).max(500).describe('Document name, e.g. "Signed order form.pdf"'),
    link: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .describe('Where the document lives (http or https URL)'),
    content_type: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/,
        'a media type, e.g. application/pdf',
      )
      .max(255)
      .nullable()
      .describe('Media type, e.g. application/pdf'),
  },
  case: {
    subject: z.string().trim().min(1).max(500).describe('What the case is about'),
    body: z.string().max(100_000).nullable().describe('Description'),
    status: z.enum(CaseStatus).describe('open, pending or closed'),
    priority: z.enum(CasePriority).describe('low, normal, high or urgent'),
  },
} as const

const endsAfterStarts = (e: { starts_at?: string | undefined; ends_at?: string | undefined }) =>
  !e.starts_at || !e.ends_at || Date.parse(e.ends_at) >= Date.parse(e.starts_at)
const WINDOW = { message: 'must not be before starts_at', path: ['ends_at'] }

export const NewActivity = z
  .discriminatedUnion('kind', [
    z
      .object({ kind: z.literal('email'), ...Fields.email })
      .extend({ body: Fields.email.body.optional(), from: Fields.email.from.optional() })
      .extend({ to: Fields.email.to.default([]) })
      .strict(),
    z
      .object({ kind: z.literal('task'), ...Fields.task })
      .extend({
        body: Fields.task.body.optional(),
        due_at: Fields.task.due_at.optional(),
        status: Fields.task.status.default('open'),
      })
      .strict(),
    z
      .object({ kind: z.literal('event'), ...Fields.event })
      .extend({ body: Fields.event.body.optional() })
      .strict()
      .refine(endsAfterStarts, WINDOW),
    z
      .object({ kind: z.literal('document'), ...Fields.document })
      .extend({ content_type: Fields.document.content_type.optional() })
      .strict(),
    z
      .object({ kind: z.literal('case'), ...Fields.case })
      .extend({
        body: Fields.case.body.optional(),
        status: Fields.case.status.default('open'),
        priority: Fields.case.priority.default('normal'),
      })
      .strict(),
  ])
  .describe('An activity to log on an account; `kind` selects the fields')
export type NewActivity = z.infer<typeof NewActivity>

/** PATCH: the fields of the activity's own kind only (no defaults: absent means unchanged). */
export const PatchByKind = {
  email: z
    .object({ kind: z.literal('email'), ...Fields.email })
    .partial()
    .strict(),
  task: z
    .object({ kind: z.literal('task'), ...Fields.task })
    .partial()
    .strict(),
  event: z
    .object({ kind: z.literal('event'), ...Fields.event })
    .partial()
    .strict()
    .refine(endsAfterStarts, WINDOW),
  document: z
    .object({ kind: z.literal('document'), ...Fields.document })
    .partial()
    .strict(),
  case: z
    .object({ kind: z.literal('case'), ...Fields.case })
    .partial()
    .strict(),
} as const
/**
 * The PATCH body as the API documents and first checks it: every kind's fields, each optional.
 * patchActivity then holds it to the activity's own kind (PatchByKind).
 */
export const ActivityPatch = z
  .object({
    kind: z.enum(ActivityKind).describe("Optional; if given, must be the activity's kind (immutable)"),
    subject: Fields.email.subject.describe('email, task, event, case: subject'),
    body: Fields.email.body.describe('email, task, event, case: text (null clears)'),
    from: Fields.email.from.describe('email: sender address'),
    to: Fields.email.to.describe('email: recipient addresses'),
    due_at: Fields.task.due_at.describe('task: when it is due (null clears)'),
    status: z
      .enum([...TaskStatus, 'pending', 'closed'])
      .describe('task: open, done or cancelled; case: open, pending or closed'),
    starts_at: Fields.event.starts_at.describe('event: start'),
    ends_at: Fields.event.ends_at.describe('event: end, not before the start'),
    name: Fields.document.name.describe('document: name'),
    link: Fields.document.link.describe('document: http or https URL'),
    content_type: Fields.document.content_type.describe('document: media type'),
    priority: Fields.case.priority.describe('case: priority'),
  })
  .partial()
  .strict()
  .describe("Fields of the activity's own kind to change")
export type ActivityPatch = z.infer<typeof ActivityPatch>

export const ActivitySort = z
  .enum(['created_at', '-created_at', 'due_at', '-due_at'])
  .default('-created_at')
  .describe('Order by creation time or due date, ascending or (-) descending; undated rows come last')
export type ActivitySort = z.infer<typeof ActivitySort>
