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

/**
 * A reader that goes away (`shoal get … | head -1`) stops the command as Ctrl-C does: resume
 * data saved, no stack trace. Node ignores SIGPIPE, so without this the failed write of the next
 * progress line would crash the process.
 */
export function stopWhenStdoutCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.emit('SIGTERM', 'SIGTERM');
  });
}
