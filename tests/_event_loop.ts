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

/**
 * Polls `condition` every `pollMs` until it holds; throws `what` after `timeoutMs`, so a
 * regression fails the test instead of hanging the run.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  pollMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
