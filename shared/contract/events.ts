// The registry's event types, written once: the change feed and `GET /events` (what clients and the
// extension hear), and the webhook events (docs/webhooks.md). python/tests checks the Python client's lists.

/** Changes the event stream `GET /events` sends (`event: <type>`). */
export const REGISTRY_EVENTS = [
  'version.created',
  'deployment.created',
  'deployment.rolled_back',
  'prompt.updated',
  'deployment_request.created',
  'deployment_request.decided',
  'rollout.changed',
] as const;
export type RegistryEventType = (typeof REGISTRY_EVENTS)[number];

/** Changes that move what an environment serves: a client's cached resolve answers are stale after them. */
export const LIVE_CHANGE_EVENTS = ['deployment.created', 'deployment.rolled_back', 'rollout.changed'] as const satisfies readonly RegistryEventType[];

/** The event types a webhook can subscribe to (`*` is every one). */
export const WEBHOOK_EVENTS = [
  'version.created',
  'deployment.deployed',
  'deployment.rolled_back',
  'approval.requested',
  'approval.decided',
  'rollout.changed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
