import { join } from 'node:path';
import type { FileSystem } from '../runtime/runtime.js';

/** One static file of the web UI. */
interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The placeholder in index.html that carries the API token to pages served on loopback. */
const TOKEN_META = '<meta name="shoal-token" content="">';

/** What the page may load and do: only its own files and API, never framed. */
export const WEB_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The web UI's static files, built by `npm run build` into `dist/src/web/` and read once at
 * start, so the daemon serves them without a network or a build step at run time.
 */
export class WebAssets {
  private constructor(private readonly files: ReadonlyMap<string, Asset>) {}

  /** Reads the UI's files from `dir`; an unbuilt UI gives an empty set (the API still works). */
  static async load(fs: FileSystem, dir: string): Promise<WebAssets> {
    const files = new Map<string, Asset>();
    if (await fs.exists(dir)) {
      for (const name of await fs.readdir(dir)) {
        const ext = name.slice(name.lastIndexOf('.'));
        const type = TYPES[ext];
        if (type === undefined || name.endsWith('.d.ts')) continue;
        files.set(`/${name}`, { type, body: await fs.readFile(join(dir, name)) });
      }
    }
    return new WebAssets(files);
  }

  /** True when the UI was built. */
  get available(): boolean {
    return this.files.has('/index.html');
  }

  /** The file at `path` (`/` is index.html); the token goes into the page only when given. */
  get(path: string, token: string | undefined): Asset | undefined {
    const asset = this.files.get(path === '/' ? '/index.html' : path);
    if (!asset || asset.type !== TYPES['.html'] || token === undefined) return asset;
    const html = asset.body
      .toString('utf8')
      .replace(TOKEN_META, `<meta name="shoal-token" content="${token}">`);
    return { type: asset.type, body: Buffer.from(html) };
  }
}
