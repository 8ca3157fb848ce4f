import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The path of a file under the project's `shared/` folder (specs, vectors), which sits beside
 * the checkout: `../shared` for the main checkout and CI, further up for a worktree.
 */
export function sharedSpec(relative: string): string {
  let dir = fileURLToPath(new URL('../../../', import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, '..', 'shared', relative);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`shared/${relative} not found beside the checkout or above it`);
}
