import { LogRoot, setDefaultLogRoot } from '../metrics/log.js';
import { jsonLinesSink, type LogSink, textSink } from '../metrics/log-sinks.js';
import { openLogFile } from '../runtime/log-file.js';
import type { Clock } from '../runtime/runtime.js';

/** The level spec when neither `--log-level` nor `SHOAL_LOG` says: errors only. */
export const DEFAULT_LOG_SPEC = 'error';

/**
 * Sets up the loggers every engine writes to: levels per component from `--log-level` or
 * `SHOAL_LOG` (e.g. `info,dht:*=debug`), human text on stderr, or JSON lines appended to
 * `--log-file`. Returns what closes the file at exit.
 * @throws {LogError} `LOG_SPEC_INVALID` with what to write instead
 */
export function setUpLogging(
  clock: Clock,
  options: { level?: string; file?: string },
  env: NodeJS.ProcessEnv = process.env,
): () => Promise<void> {
  const spec =
    options.level ?? (env.SHOAL_LOG && env.SHOAL_LOG !== '' ? env.SHOAL_LOG : DEFAULT_LOG_SPEC);
  let sink: LogSink;
  let close = async () => {};
  if (options.file) {
    const file = openLogFile(options.file);
    sink = jsonLinesSink((s) => file.write(s));
    close = () => file.close();
  } else sink = textSink((s) => void process.stderr.write(s));
  setDefaultLogRoot(new LogRoot({ clock, spec, sinks: [sink] }));
  return close;
}
