/** Time is a dependency: tests freeze it to check tolerances and grace periods. */
export type Clock = { now(): Date }

export const systemClock: Clock = { now: () => new Date() }

export function frozenClock(
  at: Date | number,
): Clock & { set(to: Date | number): void; advance(ms: number): void } {
  let t = typeof at === 'number' ? at : at.getTime()
  return {
    now: () => new Date(t),
    set: (to) => {
      t = typeof to === 'number' ? to : to.getTime()
    },
    advance: (ms) => {
      t += ms
    },
  }
}
