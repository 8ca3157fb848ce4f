import { type ChildProcess, spawn } from 'node:child_process';

/**
 * What a terminal shows after `output` was written to it: the few control sequences progress
 * displays use (carriage return, newline, cursor up/down, column, clear line, clear to the end
 * of the screen) applied to a grid of lines; anything else is dropped. Enough to tell what a
 * user would see once a command is done, and so whether stale lines were left behind.
 */
export function screen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  const put = (ch: string) => {
    const line = lines[row] ?? '';
    const chars = [...line];
    while (chars.length < col) chars.push(' ');
    chars[col] = ch;
    lines[row] = chars.join('');
    col++;
  };
  const chars = [...output];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '\r') {
      col = 0;
      continue;
    }
    if (ch === '\n') {
      row++;
      col = 0;
      if (lines[row] === undefined) lines[row] = '';
      continue;
    }
    if (ch.charCodeAt(0) !== 27) {
      put(ch);
      continue;
    }
    // ESC [ (?) digits (;digits)* letter
    if (chars[i + 1] !== '[') continue;
    let j = i + 2;
    const privateMode = chars[j] === '?';
    if (privateMode) j++;
    let digits = '';
    while (j < chars.length && /[\d;]/.test(chars[j]!)) digits += chars[j++];
    const final = chars[j] ?? '';
    i = j;
    if (privateMode) continue;
    const first = digits.split(';')[0] ?? '';
    const n = first === '' ? 1 : Number(first);
    switch (final) {
      case 'A':
        row = Math.max(0, row - n);
        break;
      case 'B':
        row += n;
        if (lines[row] === undefined) lines[row] = '';
        break;
      case 'G':
        col = Math.max(0, n - 1);
        break;
      case 'K':
        if (first === '2') lines[row] = '';
        else lines[row] = [...(lines[row] ?? '')].slice(0, col).join('');
        break;
      case 'J':
        lines[row] = [...(lines[row] ?? '')].slice(0, col).join('');
        lines.length = row + 1;
        break;
    }
  }
  return lines.map((l) => l.trimEnd()).filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** A command run on a pseudo-terminal (util-linux `script`), 120 columns wide. */
export interface TtyRun {
  readonly child: ChildProcess;
  /** Everything the terminal received so far. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/** Runs `argv` on a pseudo-terminal so it sees a TTY on stdout and stderr. */
export function runOnTty(argv: readonly string[], env: NodeJS.ProcessEnv): TtyRun {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', `stty cols 120; exec ${quoted}`, '/dev/null'], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    out += s;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, output: () => out, exited };
}
