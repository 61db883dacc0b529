/**
 * nsm-helper pidtick (native/pidtick.c) through its real line protocol, driven by
 * src/sys/pid-ticker.ts: the clock of `nsm monitor`'s poll mode.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { NsmError } from '../../src/sys/errors.js';
import { helperBinary } from '../../src/sys/native.js';
import { PIDTICK_MAX_MS, PIDTICK_MIN_MS, PidTicker } from '../../src/sys/pid-ticker.js';

const header = readFileSync(new URL('../../native/pidtick.h', import.meta.url), 'utf8');
const cDefine = (name: string): number => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)?.[1]);

describe('nsm-helper pidtick', () => {
  it('has the period bounds native/pidtick.h has', () => {
    expect([PIDTICK_MIN_MS, PIDTICK_MAX_MS]).toEqual([cDefine('PIDTICK_MIN_MS'), cDefine('PIDTICK_MAX_MS')]);
  });

  it('wakes its driver when a process is started, takes a new period, and exits once closed', async () => {
    const errors: NsmError[] = [];
    let moved!: () => void;
    const move = new Promise<void>((resolve) => (moved = resolve));
    const ticker = PidTicker.start({ periodMs: 10 }, () => moved(), (err) => errors.push(err));
    try {
      ticker.setPeriod(20);
      expect(spawnSync('true').status).toBe(0); // a pid handed out
      await move;
    } finally {
      await ticker.close();
    }
    expect(errors).toEqual([]);
  });

  it('exits with status 2 (usage) on a bad period, in argv or on stdin', () => {
    for (const [args, input] of [[['pidtick', '0'], ''], [['pidtick'], ''], [['pidtick', '50'], 'soon\n']] as const) {
      const r = spawnSync(helperBinary(), [...args], { input, encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^(usage: nsm-helper pidtick|nsm-helper pidtick: bad period: soon)/);
    }
  });

  it('exits with status 3 when the proc root has no loadavg', () => {
    const r = spawnSync(helperBinary(), ['pidtick', '--proc', '/nonexistent', '50'], { input: '', encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/cannot read \/nonexistent\/loadavg/);
  });
});
