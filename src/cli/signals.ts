/** Resolves with 'signal' on the first SIGINT or SIGTERM, so commands can stop cleanly. */
export function untilSignal(): Promise<'signal'> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve('signal');
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
