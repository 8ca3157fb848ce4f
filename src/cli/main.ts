#!/usr/bin/env node
/** The `shoal` command: parses arguments and hands each subcommand a real runtime. */
import { Command, CommanderError } from 'commander';
import { createRealRuntime } from '../runtime/real.js';
import { createCommand } from './commands/create.js';
import { infoCommand } from './commands/info.js';
import { EXIT_USAGE, reportError } from './errors.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

async function main(argv: string[]): Promise<number> {
  const program = new Command('shoal')
    .description('A peer-to-peer node that speaks BitTorrent')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let action: Promise<void> | undefined;
  const runtime = () => createRealRuntime();

  program
    .command('create')
    .description('create a .torrent of a file or folder (hybrid v1+v2 unless told otherwise)')
    .argument('<path>', 'file or folder to share')
    .option('-o, --output <file>', 'where to write the torrent (default: <name>.torrent)')
    .option('--v1', 'BitTorrent v1 only (SHA-1 pieces)')
    .option('--v2', 'BitTorrent v2 only (SHA-256 merkle trees, BEP 52)')
    .option('--hybrid', 'both v1 and v2 (the default)')
    .option(
      '--piece-length <bytes>',
      'bytes per piece, a power of two ≥ 16K for v2 (default: chosen from the size)',
    )
    .option('--tracker <url>', 'announce URL (repeatable, one tier each)', collect, [])
    .option('--web-seed <url>', 'web seed URL (repeatable)', collect, [])
    .option('--private', 'private torrent: peers only from its trackers')
    .option('--comment <text>', 'free-text comment')
    .action((path: string, opts) => {
      action = createCommand(runtime(), path, opts);
    });

  program
    .command('info')
    .description('show what a .torrent file or magnet link describes')
    .argument('<source>', '.torrent file or magnet link')
    .option('--json', 'print one JSON object')
    .action((source: string, opts) => {
      action = infoCommand(runtime(), source, opts);
    });

  try {
    await program.parseAsync(argv);
    if (action) await action;
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportError(error);
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
