import { createWriteStream } from 'node:fs';

/** An append-only text file for log records (`--log-file`), written in the background. */
export interface LogFile {
  write(text: string): void;
  close(): Promise<void>;
}

/** Opens `path` for appending (created 0600: logs may name peers and files). */
export function openLogFile(path: string): LogFile {
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  stream.on('error', () => {}); // a failing log file must not take the node down
  return {
    write: (text) => void stream.write(text),
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}
