/**
 * Pieces shared by the benchmarks: reproducible pseudo-random content, page-cache warming,
 * size overrides from the environment, and child processes that speak JSON lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const BLOCK_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 4 * 1024 * 1024;

/** A whole number of at least `min` (default 1) from environment variable `name`, or `fallback` when unset. */
export function envCount(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`${name}="${raw}" is not a count ≥ ${min}`);
  return n;
}

/** A positive number (fractions allowed) from environment variable `name`, or `fallback` when unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(n > 0)) throw new Error(`${name}="${raw}" is not a positive number`);
  return n;
}

/**
 * A positive byte count from environment variable `name`, or `fallback` when it is unset.
 * Plain bytes, or a K/M/G suffix in powers of 1024 (`128M`).
 */
export function envBytes(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^(\d+)\s*([kKmMgG])?$/.exec(raw.trim());
  const scale = m
    ? { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()]
    : undefined;
  const n = m && scale !== undefined ? Number(m[1]) * scale : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`${name}="${raw}" is not a positive byte count`);
  }
  return n;
}

/**
 * Writes `size` pseudo-random bytes: AES-128-CTR keystream with a fixed key, the number of each
 * 64 MiB block as its IV, so every block (and so every piece) differs and runs are reproducible.
 * Each block is produced and written in 4 MiB chunks (the keystream simply continues), which
 * keeps this process small: children forked from it inherit its RSS into their ru_maxrss.
 */
export async function writeContent(path: string, size: number): Promise<void> {
  const key = Buffer.alloc(16, 0x5a);
  const zeros = Buffer.alloc(Math.min(CHUNK_BYTES, size));
  const file = await open(path, 'w');
  try {
    for (let block = 0, offset = 0; offset < size; block++) {
      const iv = Buffer.alloc(16);
      iv.writeUInt32BE(block, 0);
      const cipher = createCipheriv('aes-128-ctr', key, iv);
      const end = Math.min(offset + BLOCK_BYTES, size);
      for (; offset < end; ) {
        const data = cipher.update(zeros.subarray(0, Math.min(CHUNK_BYTES, end - offset)));
        await file.write(data, 0, data.length, offset);
        offset += data.length;
      }
    }
    await file.sync(); // so that write-back does not compete with the timed runs
  } finally {
    await file.close();
  }
}

/** Reads the whole file once so that later readers find it in the page cache. */
export async function warmPageCache(path: string): Promise<void> {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  const file = await open(path, 'r');
  try {
    for (let position = 0; ; ) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
    }
  } finally {
    await file.close();
  }
}

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** `bytes` over `seconds` as decimal megabytes per second. */
export const mbps = (bytes: number, seconds: number): string =>
  `${(bytes / 1e6 / seconds).toFixed(1)} MB/s`;

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago: each is bound to port 0
 * (all held at once, so they differ) and released. Another program could take one before it is
 * used; callers see that as a child failing to listen.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port bound');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * One JSON object printed by a child, with the time (performance.now(), ms) it arrived and,
 * for a child under {@link JsonChild.track}, the CPU seconds it had used by then.
 */
export interface JsonEvent {
  readonly at: number;
  readonly cpu?: number;
  readonly event?: string;
  readonly [key: string]: unknown;
}

/** How a child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const tail = (text: string, max = 2000): string =>
  text.length > max ? `…${text.slice(-max)}` : text;

/**
 * A child process whose stdout is JSON lines. Every line is kept (as a {@link JsonEvent}, or as
 * text when it is not JSON) so callers can wait for an event, read the latest figures, and quote
 * the output when something goes wrong.
 */
export class JsonChild {
  readonly proc: ChildProcess;
  readonly events: JsonEvent[] = [];
  readonly spawnedAt: number;
  private text = '';
  private stderrText = '';
  private exitInfo: Exit | undefined;
  private readonly listeners = new Set<() => void>();
  private peakRss: number | undefined;
  private rssTimer: NodeJS.Timeout | undefined;
  readonly exited: Promise<Exit>;

  constructor(
    readonly label: string,
    cmd: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.spawnedAt = performance.now();
    this.proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise<Exit>((resolve) => {
      this.proc.once('error', (error) => {
        clearInterval(this.rssTimer);
        this.stderrText += `\n${error.message}`;
        this.exitInfo ??= { code: null, signal: null };
        this.notify();
        resolve(this.exitInfo);
      });
      this.proc.once('close', (code, signal) => {
        clearInterval(this.rssTimer);
        this.exitInfo ??= { code, signal };
        this.notify();
        resolve(this.exitInfo);
      });
    });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const at = performance.now();
      let cpu: number | undefined;
      if (this.rssTimer !== undefined) {
        this.sampleRss(); // so that a "done" line sees the peak so far
        cpu = this.cpuSeconds();
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        this.events.push({
          ...(parsed as Record<string, unknown>),
          at,
          ...(cpu !== undefined && { cpu }),
        });
        this.notify();
      } else {
        this.text += `${line}\n`;
      }
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (s: string) => {
      this.stderrText = tail(this.stderrText + s, 20_000);
    });
    this.proc.stdin!.on('error', () => {}); // the child may exit before reading its stdin
  }

  /**
   * Starts sampling the child's peak RSS: VmHWM from /proc/PID/status every `intervalMs` and
   * whenever it prints a line (which also gets the child's CPU time so far). VmHWM belongs to the memory image of the running program, while
   * getrusage's ru_maxrss (what `process.resourceUsage().maxRSS` reads) also counts the RSS
   * of the parent at fork time, as Linux carries it over across exec.
   */
  track(intervalMs = 50): this {
    this.sampleRss();
    this.rssTimer = setInterval(() => this.sampleRss(), intervalMs);
    this.rssTimer.unref();
    return this;
  }

  /** The highest VmHWM seen by {@link track}, in bytes (undefined without /proc). */
  get peakRssBytes(): number | undefined {
    return this.peakRss;
  }

  private sampleRss(): void {
    if (this.exitInfo !== undefined || this.proc.pid === undefined) return;
    try {
      const m = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync(`/proc/${this.proc.pid}/status`, 'utf8'));
      if (m) this.peakRss = Math.max(this.peakRss ?? 0, Number(m[1]) * 1024);
    } catch {
      // no /proc, or the child is just exiting
    }
  }

  /**
   * CPU seconds (user + system, all threads) the child has used so far, from /proc/PID/stat;
   * undefined without /proc or once it has exited. Assumes the usual 100 clock ticks a second.
   */
  cpuSeconds(): number | undefined {
    if (this.exitInfo !== undefined || this.proc.pid === undefined) return undefined;
    try {
      const stat = readFileSync(`/proc/${this.proc.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return undefined;
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  /** The latest event named `name`, if any. */
  last(name: string): JsonEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--)
      if (this.events[i]!.event === name) return this.events[i];
    return undefined;
  }

  /** What the child printed that was not JSON, and its stderr: for error messages. */
  output(): string {
    const out = [this.text.trim(), this.stderrText.trim()].filter((s) => s !== '').join('\n');
    return out === '' ? '(no output)' : tail(out);
  }

  /**
   * Resolves with the first event (already received or still to come) for which `match` is
   * true; rejects when the child exits first or `timeoutMs` passes.
   */
  waitFor(match: (e: JsonEvent) => boolean, timeoutMs: number, what: string): Promise<JsonEvent> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < this.events.length; seen++) {
          if (match(this.events[seen]!)) {
            finish();
            resolve(this.events[seen]!);
            return;
          }
        }
        if (this.exitInfo !== undefined) {
          finish();
          reject(
            new Error(
              `${this.label} exited (code ${this.exitInfo.code}, signal ${this.exitInfo.signal}) before ${what}:\n${this.output()}`,
            ),
          );
        }
      };
      const timer = setTimeout(
        () => {
          finish();
          const progress = this.last('progress');
          reject(
            new Error(
              `${this.label}: no ${what} within ${(timeoutMs / 1000).toFixed(0)} s` +
                (progress
                  ? ` (last progress: ${JSON.stringify({ ...progress, at: undefined, cpu: undefined })})`
                  : '') +
                `\n${this.output()}`,
            ),
          );
        },
        Math.max(0, timeoutMs),
      );
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Resolves when the child exits, or rejects after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(`${this.label} did not exit within ${(timeoutMs / 1000).toFixed(0)} s`),
              ),
            Math.max(0, timeoutMs),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the child: closes its stdin, sends SIGTERM, and SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exitInfo !== undefined || this.proc.pid === undefined) return;
    this.proc.stdin?.end();
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.exitInfo === undefined) this.proc.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL right away, for emergencies (the bench itself is being interrupted). */
  killNow(): void {
    if (this.exitInfo === undefined && this.proc.pid !== undefined) this.proc.kill('SIGKILL');
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

/**
 * The children a benchmark started, so that every one of them is stopped at the end, whatever
 * happens — and, on Ctrl-C or SIGTERM to the benchmark, killed before it exits.
 */
export class Children {
  private readonly all = new Set<JsonChild>();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    for (const c of this.all) c.killNow();
    this.cleanupSync?.();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  /** `cleanupSync` runs on a signal, after the children are killed (e.g. removing temp dirs). */
  constructor(private readonly cleanupSync?: () => void) {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  spawn(label: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): JsonChild {
    const child = new JsonChild(label, cmd, args, env);
    this.all.add(child);
    void child.exited.then(() => this.all.delete(child));
    return child;
  }

  /** Stops every child still running (in parallel). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.all].map((c) => c.stop()));
  }

  /** Stops every child and removes the signal handlers. */
  async close(): Promise<void> {
    await this.stopAll();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** A point in time after which waits give up. */
export class Deadline {
  private readonly end: number;
  constructor(
    readonly ms: number,
    readonly what: string,
  ) {
    this.end = performance.now() + ms;
  }
  /** Milliseconds left (at least 0). */
  left(): number {
    return Math.max(0, this.end - performance.now());
  }
}

/**
 * Runs the named parts of a benchmark in order, those listed in environment variable `envVar`
 * (comma-separated; all by default). A part that throws is reported and fails the run; the
 * children it started are stopped either way.
 */
export async function runParts<T>(
  envVar: string,
  parts: readonly (readonly [key: string, title: string, part: (arg: T) => Promise<void>])[],
  arg: T,
  children: Children,
): Promise<void> {
  const wanted = (process.env[envVar] ?? parts.map(([key]) => key).join(','))
    .split(',')
    .map((w) => w.trim());
  for (const [key, title, part] of parts) {
    if (!wanted.includes(key)) continue;
    process.stdout.write(`-- ${title}\n`);
    try {
      await part(arg);
    } catch (error) {
      process.stdout.write(`FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    } finally {
      await children.stopAll();
    }
  }
}
