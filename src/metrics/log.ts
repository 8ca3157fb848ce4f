import type { Clock } from '../runtime/runtime.js';
import { LogError } from './errors.js';
import type { LogFields, LogRecord, LogSink } from './log-sinks.js';
import {
  isComponentName,
  type LogLevel,
  type LogSpec,
  type LogThreshold,
  levelFor,
  parseLogSpec,
} from './log-spec.js';

/**
 * Logs under one component name (`dht:lookup`). Each call first compares the level with the
 * component's configured level, so a disabled call costs a comparison; fields may be given as
 * a function, evaluated only when the record is written.
 */
export interface Logger {
  readonly component: string;
  error(message: string, fields?: LogFields | (() => LogFields)): void;
  warn(message: string, fields?: LogFields | (() => LogFields)): void;
  info(message: string, fields?: LogFields | (() => LogFields)): void;
  debug(message: string, fields?: LogFields | (() => LogFields)): void;
  trace(message: string, fields?: LogFields | (() => LogFields)): void;
  /** Whether `level` would be written now (to skip preparing something costly). */
  enabled(level: LogLevel): boolean;
  /** The logger of a sub-component: `logger('dht').child('lookup')` logs as `dht:lookup`. */
  child(name: string): Logger;
  /** A logger adding `fields` to every record (e.g. `{ torrent: infoHash }`). */
  with(fields: LogFields): Logger;
}

/** Options of a {@link LogRoot}. */
export interface LogRootOptions {
  /** Stamps records (`wallTime`); the simulator's is virtual. */
  readonly clock: Clock;
  /** Levels per component; `info` for all when not given. */
  readonly spec?: string | LogSpec;
  readonly sinks?: readonly LogSink[];
}

/** Numeric order of levels: a record is written when its rank ≤ the component's. */
const RANK: Readonly<Record<LogThreshold, number>> = {
  off: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
};

/**
 * The configuration every logger of a node reads: the level spec, the clock and the sinks.
 * A node (or each simulated host) makes one and passes it, or loggers made from it, in its
 * engines' dependency objects.
 */
export class LogRoot {
  private currentSpec: LogSpec;
  private sinks: LogSink[];
  private changes = 0;
  private failures = 0;

  constructor(private readonly options: LogRootOptions) {
    this.currentSpec = readSpec(options.spec ?? 'info');
    this.sinks = [...(options.sinks ?? [])];
  }

  /**
   * The logger of `component` (segments of a-z 0-9 `_` `.` `-` joined by `:`).
   * @throws {LogError} `LOG_COMPONENT_INVALID`
   */
  logger(component: string): Logger {
    return new ComponentLogger(this, assertComponent(component), undefined);
  }

  /** The spec in force. */
  get spec(): LogSpec {
    return this.currentSpec;
  }

  /** Sets new levels; loggers made earlier follow. @throws {LogError} `LOG_SPEC_INVALID` */
  configure(spec: string | LogSpec): void {
    this.currentSpec = readSpec(spec);
    this.changes++;
  }

  /** Adds a sink; returns the function that removes it again. */
  addSink(sink: LogSink): () => void {
    this.sinks = [...this.sinks, sink];
    this.changes++;
    return () => {
      const before = this.sinks.length;
      this.sinks = this.sinks.filter((s) => s !== sink);
      if (this.sinks.length !== before) this.changes++;
    };
  }

  /** Counts changes of spec or sinks, so loggers know when to look their level up again. */
  get version(): number {
    return this.changes;
  }

  /** Records a sink threw on (the record is lost for that sink; logging carries on). */
  get sinkFailures(): number {
    return this.failures;
  }

  /** The level `component` logs at now (`off` while there is no sink). */
  levelOf(component: string): LogThreshold {
    return this.sinks.length === 0 ? 'off' : levelFor(this.currentSpec, component);
  }

  /** Stamps a record with the clock and hands it to every sink. */
  write(level: LogLevel, component: string, message: string, fields: LogFields | undefined): void {
    const record: LogRecord = {
      time: this.options.clock.wallTime(),
      level,
      component,
      message,
      fields,
    };
    for (const sink of this.sinks) {
      try {
        sink(record);
      } catch {
        this.failures++;
      }
    }
  }
}

/** A clock for the default root before anyone configures it; it has no sinks, so no record reads it. */
const NO_CLOCK: Clock = { now: () => 0, wallTime: () => 0 };

let defaultRoot = new LogRoot({ clock: NO_CLOCK });

/** The root that {@link logger} uses: silent (no sinks) until the CLI or a test sets one. */
export function defaultLogRoot(): LogRoot {
  return defaultRoot;
}

/** Replaces the default root and returns the previous one (tests put it back after). */
export function setDefaultLogRoot(root: LogRoot): LogRoot {
  const previous = defaultRoot;
  defaultRoot = root;
  return previous;
}

/**
 * A logger on the default root, for code without a root in its dependencies; it follows the
 * default root when that is replaced. Prefer a `Logger` passed in deps where there is one.
 * @throws {LogError} `LOG_COMPONENT_INVALID`
 */
export function logger(component: string): Logger {
  return new ComponentLogger(undefined, assertComponent(component), undefined);
}

class ComponentLogger implements Logger {
  private seenRoot: LogRoot | undefined;
  private seenVersion = -1;
  private rank = 0;

  constructor(
    /** The root, or `undefined` to follow the default root. */
    private readonly root: LogRoot | undefined,
    readonly component: string,
    private readonly bound: LogFields | undefined,
  ) {}

  error(message: string, fields?: LogFields | (() => LogFields)): void {
    if (this.currentRank() >= RANK.error) this.write('error', message, fields);
  }

  warn(message: string, fields?: LogFields | (() => LogFields)): void {
    if (this.currentRank() >= RANK.warn) this.write('warn', message, fields);
  }

  info(message: string, fields?: LogFields | (() => LogFields)): void {
    if (this.currentRank() >= RANK.info) this.write('info', message, fields);
  }

  debug(message: string, fields?: LogFields | (() => LogFields)): void {
    if (this.currentRank() >= RANK.debug) this.write('debug', message, fields);
  }

  trace(message: string, fields?: LogFields | (() => LogFields)): void {
    if (this.currentRank() >= RANK.trace) this.write('trace', message, fields);
  }

  enabled(level: LogLevel): boolean {
    return this.currentRank() >= RANK[level];
  }

  child(name: string): Logger {
    return new ComponentLogger(this.root, assertComponent(`${this.component}:${name}`), this.bound);
  }

  with(fields: LogFields): Logger {
    return new ComponentLogger(this.root, this.component, { ...this.bound, ...fields });
  }

  /** The component's rank, looked up again only when the root or its configuration changed. */
  private currentRank(): number {
    const root = this.root ?? defaultRoot;
    if (root !== this.seenRoot || root.version !== this.seenVersion) {
      this.seenRoot = root;
      this.seenVersion = root.version;
      this.rank = RANK[root.levelOf(this.component)];
    }
    return this.rank;
  }

  private write(
    level: LogLevel,
    message: string,
    fields: LogFields | (() => LogFields) | undefined,
  ): void {
    let own: LogFields | undefined;
    try {
      own = typeof fields === 'function' ? fields() : fields;
    } catch (error) {
      own = { fieldsFailed: error };
    }
    const all =
      this.bound === undefined ? own : own === undefined ? this.bound : { ...this.bound, ...own };
    this.seenRoot!.write(level, this.component, message, all);
  }
}

function readSpec(spec: string | LogSpec): LogSpec {
  return typeof spec === 'string' ? parseLogSpec(spec) : spec;
}

function assertComponent(component: string): string {
  if (!isComponentName(component))
    throw new LogError(
      'LOG_COMPONENT_INVALID',
      `'${component}' is no component name: use segments of a-z 0-9 _ . - joined by ':'`,
    );
  return component;
}
