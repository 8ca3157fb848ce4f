/** Human-readable byte counts for CLI output: `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${bytes} B`
    : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** Parses a byte count with an optional K/M/G suffix (powers of 1024): `262144`, `256K`, `4M`. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+)\s*([kKmMgG]i?[bB]?)?$/.exec(text.trim());
  if (!m) return undefined;
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    (m[2] ?? '').charAt(0).toLowerCase()
  ];
  return scale === undefined ? undefined : Number(m[1]) * scale;
}
