import { describe, expect, it } from 'vitest';
import { RunQueue } from '../../agent/run-queue.ts';

describe('RunQueue activity', () => {
  it('reports idle only after the last overlapping run', async () => {
    const events: string[] = [];
    const queue = new RunQueue({ runStarted: () => events.push('started'), runEnded: () => events.push('ended') });
    let finishRestore!: () => void;
    const restoreBlocked = new Promise<void>((resolve) => (finishRestore = resolve));

    const restore = queue.restore(1, () => restoreBlocked);
    await queue.backup(7, 2, async () => undefined);
    expect(events).toEqual(['started', 'started']);

    finishRestore();
    await restore;
    expect(events).toEqual(['started', 'started', 'ended']);
  });

  it('reports the end of a failed run', async () => {
    const events: string[] = [];
    const queue = new RunQueue({ runStarted: () => events.push('started'), runEnded: () => events.push('ended') });

    await expect(queue.backup(7, 3, async () => Promise.reject(new Error('disk gone')))).rejects.toThrow('disk gone');

    expect(events).toEqual(['started', 'ended']);
  });
});
