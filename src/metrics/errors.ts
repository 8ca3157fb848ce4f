import { ShoalError } from '../errors.js';

/** The stable codes of {@link MetricsError}, one per kind of mistake. */
export type MetricsErrorCode =
  /** A metric or label name breaks the naming rules (docs/METRICS.md). */
  | 'METRIC_NAME_INVALID'
  /** A metric was declared again with a different type, help, labels or buckets. */
  | 'METRIC_CONFLICT'
  /** Label values are missing, extra or not strings. */
  | 'METRIC_LABELS_INVALID'
  /** A value a metric cannot take: a negative counter increment, bad buckets. */
  | 'METRIC_VALUE_INVALID'
  /** A child registry clashes with a live one, or was used after `dispose()`. */
  | 'METRICS_SCOPE_INVALID';

/**
 * A metric was declared or used the wrong way. Always a programming mistake in shoal, never
 * caused by network input: label values from peers are capped, not rejected.
 */
export class MetricsError extends ShoalError {
  declare readonly code: MetricsErrorCode;

  constructor(code: MetricsErrorCode, message: string) {
    super(code, message);
  }
}

/** The stable codes of {@link LogError}. */
export type LogErrorCode =
  /** A log level spec (`SHOAL_LOG`, `--log-level`) cannot be parsed. */
  | 'LOG_SPEC_INVALID'
  /** A logger was asked for with a component name the spec syntax could not select. */
  | 'LOG_COMPONENT_INVALID'
  /** A logger option cannot work (a memory sink of no capacity). */
  | 'LOG_OPTIONS_INVALID';

/** The log configuration or a component name is malformed; the message says how to fix it. */
export class LogError extends ShoalError {
  declare readonly code: LogErrorCode;

  constructor(code: LogErrorCode, message: string) {
    super(code, message);
  }
}
