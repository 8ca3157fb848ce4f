import { availableParallelism } from 'node:os';
import { parentPort, Worker } from 'node:worker_threads';

/** A worker thread as the rest of shoal sees it: messages both ways, buffers transferred. */
export interface WorkerHandle {
  postMessage(message: unknown, transfer: readonly ArrayBuffer[]): void;
  onMessage(handler: (message: unknown) => void): void;
  onError(handler: (error: Error) => void): void;
  /** Lets the process exit while the worker is idle (`ref` undoes it). */
  unref(): void;
  ref(): void;
  terminate(): Promise<void>;
}

/**
 * Starts worker threads. Threads are part of the runtime seam so that code using them can run
 * where there are none (the simulator hashes inline) and tests can count them.
 */
export interface WorkerFactory {
  /** Cores the process may use: a sensible default number of workers. */
  readonly parallelism: number;
  spawn(script: URL): WorkerHandle;
}

/** Real threads (`node:worker_threads`). */
export const realWorkers: WorkerFactory = {
  parallelism: availableParallelism(),
  spawn(script) {
    const worker = new Worker(script);
    return {
      postMessage: (message, transfer) => worker.postMessage(message, [...transfer]),
      onMessage: (handler) => void worker.on('message', handler),
      onError: (handler) => void worker.on('error', handler),
      unref: () => worker.unref(),
      ref: () => worker.ref(),
      terminate: async () => {
        await worker.terminate();
      },
    };
  },
};

/**
 * The worker side: a script started by {@link WorkerFactory.spawn} receives messages from, and
 * answers, the thread that started it.
 */
export function serveParent(handle: (message: unknown) => [unknown, ArrayBuffer[]]): void {
  parentPort?.on('message', (message: unknown) => {
    const [reply, transfer] = handle(message);
    parentPort?.postMessage(reply, transfer);
  });
}
