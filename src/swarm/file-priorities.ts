import type { PieceLayout } from '../storage/layout.js';
import type { PiecePicker } from './piece-picker.js';

/**
 * Derives piece priorities from file priorities (0 skips a file, up to 7): a piece shared by
 * two files gets the higher of theirs; padding files count for nothing.
 */
export function applyFilePriorities(
  picker: PiecePicker,
  layout: PieceLayout,
  priorities: readonly number[],
): void {
  picker.priority.fill(0);
  layout.files.forEach((f, i) => {
    const range = layout.piecesOfFile(i);
    if (!range || f.padding) return;
    const p = Math.max(0, Math.min(7, priorities[i] ?? 1));
    for (let k = range[0]; k <= range[1]; k++) {
      picker.priority[k] = Math.max(picker.priority[k]!, p);
    }
  });
  picker.prioritiesChanged();
}

/** Makes the skipped pieces of file `fileIndex` wanted (a stream reads it); true if any were. */
export function wantFilePieces(
  picker: PiecePicker,
  layout: PieceLayout,
  fileIndex: number,
): boolean {
  const range = layout.piecesOfFile(fileIndex);
  if (!range) return false;
  let changed = false;
  for (let k = range[0]; k <= range[1]; k++) {
    if (picker.priority[k] === 0) {
      picker.priority[k] = 1;
      changed = true;
    }
  }
  if (changed) picker.prioritiesChanged();
  return changed;
}
