/**
 * groupedCount writes counts as toLocaleString('en-US') does ("12,345") without ICU's number
 * formatting, whose set-up on first use costs `nsm ps` and `nsm tree` more than drawing them.
 */
import { describe, expect, it } from 'vitest';
import { groupedCount } from '../../src/ui/namespace-columns.js';

describe('groupedCount', () => {
  it('groups thousands with commas, as en-US', () => {
    for (const n of [0, 1, 12, 999, 1000, 1234, 12345, 123456, 999999, 1000000, 1234567, 2 ** 31, Number.MAX_SAFE_INTEGER, -1, -1234, -1234567]) {
      expect(groupedCount(n)).toBe(n.toLocaleString('en-US'));
    }
  });

  it('anything but a safe integer as toLocaleString does', () => {
    for (const n of [1.5, 1234.5678, Infinity, NaN, 2 ** 60]) expect(groupedCount(n)).toBe(n.toLocaleString('en-US'));
  });
});
