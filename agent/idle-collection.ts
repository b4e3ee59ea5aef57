import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from '../src/logger.ts';

/** V8 heap size above which an agent that went idle runs a full garbage collection. */
const largeHeapBytes = 96 * 1024 * 1024;

/** Quiet time in ms after the last run before the collection. */
const idleDelayMs = 2000;

/**
 * Returns V8's `gc` function. The flag is set at run time, because the agent starts through a
 * plain `node` shebang, and a context created after it has `gc` as a global.
 */
function loadCollector(): (() => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const collect: unknown = vm.runInNewContext('gc');
    return typeof collect === 'function' ? (collect as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * Runs a full garbage collection once the agent has been idle for a moment after a run with a
 * large heap. A backup of 100,000 files leaves about 300 MB of garbage that V8 keeps as resident
 * memory until a memory-reducing collection, which an idle process may not get for minutes.
 */
export class IdleCollection {
  private readonly logger: Logger;
  private collector: (() => void) | null | undefined;
  private timer: NodeJS.Timeout | null = null;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Call when a run starts, so that no collection pauses it. */
  runStarted(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Call when a run ends. The collection follows after `idleDelayMs` without another run. */
  runEnded(): void {
    this.runStarted();
    this.timer = setTimeout(() => this.collect(), idleDelayMs);
    this.timer.unref();
  }

  private collect(): void {
    this.timer = null;
    const before = v8.getHeapStatistics().total_heap_size;
    if (before < largeHeapBytes) return;
    this.collector ??= loadCollector();
    if (this.collector === null) return;
    const startedAt = performance.now();
    this.collector();
    const after = v8.getHeapStatistics().total_heap_size;
    this.logger.debug(
      { heapBefore: before, heapAfter: after, durationMs: Math.round(performance.now() - startedAt) },
      'garbage collected after runs',
    );
  }
}
