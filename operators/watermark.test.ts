import { describe, expect, it } from 'vitest';
import { JobWatermark, PartitionWatermark } from './watermark.ts';

describe('PartitionWatermark', () => {
  it('is the max event time minus the out-of-orderness bound', () => {
    const w = new PartitionWatermark(5000);
    w.observe(100_000);
    w.observe(90_000);
    expect(w.current).toBe(95_000);
  });
});

describe('JobWatermark', () => {
  const setup = () => {
    let now = 0;
    const job = new JobWatermark({ idlenessMs: 10_000, now: () => now });
    const a = new PartitionWatermark(0);
    const b = new PartitionWatermark(0);
    job.track(0, a);
    job.track(1, b);
    return { job, a, b, advance: (ms: number) => (now += ms) };
  };

  it('is the minimum over active partitions', () => {
    const { job, a, b } = setup();
    a.observe(200_000);
    b.observe(100_000);
    expect(job.current).toBe(100_000);
  });

  it('stops waiting for a partition once it has been idle for the timeout', () => {
    const { job, a, b, advance } = setup();
    a.observe(200_000);
    b.observe(100_000);
    advance(9_999);
    job.touch(0);
    expect(job.current).toBe(100_000);
    advance(1);
    expect(job.current).toBe(200_000);
  });

  it('never goes back when an idle partition becomes active again', () => {
    const { job, a, b, advance } = setup();
    a.observe(200_000);
    b.observe(100_000);
    advance(10_000);
    job.touch(0);
    expect(job.current).toBe(200_000);
    job.touch(1); // b active again, still behind
    expect(job.current).toBe(200_000);
    b.observe(300_000);
    a.observe(250_000);
    expect(job.current).toBe(250_000);
  });

  it('lets windows fire when every partition is idle', () => {
    const { job, a, b, advance } = setup();
    a.observe(200_000);
    b.observe(100_000);
    advance(10_000);
    expect(job.current).toBe(200_000);
  });
});
