import { describe, expect, it } from 'vitest';
import { SlabPool } from '../../agent/transfer/slab-pool.ts';

describe('SlabPool', () => {
  it('reuses a slab only after all its buffers are released', () => {
    const pool = new SlabPool(64, 4);
    const first = pool.allocate(40);
    const second = pool.allocate(20);
    first.fill(1);
    second.fill(2);
    // Does not fit in the first slab, so a second slab becomes current.
    const third = pool.allocate(40);
    third.fill(3);

    pool.release(first);
    const fourth = pool.allocate(30);
    fourth.fill(4);
    expect(second.every((byte) => byte === 2)).toBe(true);
    expect(fourth.buffer).not.toBe(first.buffer);

    pool.release(second);
    pool.release(third);
    pool.release(fourth);
    const reused = pool.allocate(64);
    expect([first.buffer, third.buffer]).toContain(reused.buffer);
  });

  it('counts a released subarray for its slab', () => {
    const pool = new SlabPool(64, 4);
    const whole = pool.allocate(10);
    const other = pool.allocate(20);

    pool.release(whole.subarray(0, 3));
    const next = pool.allocate(50);
    expect(next.buffer, 'slab still holds a live buffer').not.toBe(whole.buffer);

    pool.release(other);
    const reused = pool.allocate(64);
    expect(reused.buffer).toBe(whole.buffer);
  });

  it('gives contents above the slab size their own buffer', () => {
    const pool = new SlabPool(64, 4);
    const large = pool.allocate(100);

    expect(large.length).toBe(100);
    pool.release(large);
  });
});
