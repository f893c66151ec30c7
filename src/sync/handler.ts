import type { EventHandler } from '../queue/worker.js'

/**
 * Settles an event. The canonical mapping and apply step (accounts, subscriptions, history) lands
 * with the sync issue; until then every verified, stored event is marked applied.
 */
export const handleEvent: EventHandler = async () => ({ status: 'applied' })
