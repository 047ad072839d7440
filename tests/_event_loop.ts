// Shared by the tests that check long work leaves the event loop free: how many times a timer
// fired while `work` ran. Work that holds the JavaScript thread throughout lets none fire.

/** The ticks of a `periodMs` interval timer during `work()`. */
export async function ticksDuring(work: () => Promise<unknown>, periodMs = 1): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, periodMs);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}
