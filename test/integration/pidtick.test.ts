/**
 * nsm-helper pidtick (native/pidtick.c) through its real line protocol, driven by
 * src/sys/pid-ticker.ts: the clock of `nsm monitor`'s poll mode.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { NsmError } from '../../src/sys/errors.js';
import { helperBinary } from '../../src/sys/native.js';
import { rawScan } from '../../src/sys/native-scan.js';
import { parseReport, PIDTICK_MAX_MS, PIDTICK_MIN_MS, PidTicker, type PidTickerReport } from '../../src/sys/pid-ticker.js';

const header = readFileSync(new URL('../../native/pidtick.h', import.meta.url), 'utf8');
const cDefine = (name: string): number => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)?.[1]);

describe('nsm-helper pidtick', () => {
  it('has the period bounds native/pidtick.h has', () => {
    expect([PIDTICK_MIN_MS, PIDTICK_MAX_MS]).toEqual([cDefine('PIDTICK_MIN_MS'), cDefine('PIDTICK_MAX_MS')]);
  });

  it('parses its lines: the cursor moved, pids appeared and gone', () => {
    expect(parseReport(['M 1234', '+ 1230', '- 17', '+ 1234'])).toEqual({ moved: true, appeared: [1230, 1234], gone: [17] });
    expect(parseReport(['- 5'])).toEqual({ moved: false, appeared: [], gone: [5] });
    expect(() => parseReport(['X 5'])).toThrow(/unexpected line/);
    expect(() => parseReport(['M'])).toThrow(/unexpected line/);
  });

  it('reports a process started and gone (cursor and listing), takes a new period, and exits once closed', async () => {
    const errors: NsmError[] = [];
    const reports: PidTickerReport[] = [];
    let wake = (): void => {};
    const ticker = PidTicker.start({ periodMs: 10, listMs: 10 }, (r) => (reports.push(r), wake()), (err) => errors.push(err));
    const until = async (pred: () => boolean): Promise<void> => {
      while (!pred()) await new Promise<void>((resolve) => (wake = resolve));
    };
    try {
      ticker.setPeriod(20);
      // A process that lives until we close its stdin: listed while alive, then gone.
      const child = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] });
      const pid = child.pid!;
      await until(() => reports.some((r) => r.moved) && reports.some((r) => r.appeared.includes(pid)));
      child.stdin!.end();
      await until(() => reports.some((r) => r.gone.includes(pid)));
    } finally {
      await ticker.close();
    }
    expect(errors).toEqual([]);
  });

  it('runs scans for its driver, one after another, each ended by its status line', async () => {
    const errors: NsmError[] = [];
    const ticker = PidTicker.start({ periodMs: 50, listMs: 250 }, () => {}, (err) => errors.push(err));
    try {
      for (let i = 0; i < 2; i++) {
        const scan = await rawScan({ types: ['net', 'mnt'], fds: false }, ticker);
        expect(scan.processes.some((p) => p.pid === process.pid && p.ns.net !== undefined)).toBe(true);
        // The scanner is left out; the helper is a process like any other.
        expect(scan.processes.filter((p) => p.comm === 'nsm:scan')).toEqual([]);
        expect(scan.processes.filter((p) => p.comm === 'nsm:pidtick' && p.ppid === process.pid)).toHaveLength(1);
      }
      // One at a time: a second while one runs is refused, not queued.
      const first = ticker.runScan(['--types', '16'], () => {});
      await expect(ticker.runScan(['--types', '16'], () => {})).rejects.toThrow(/already running/);
      expect((await first).status).toBe(0);
    } finally {
      await ticker.close();
    }
    expect(errors).toEqual([]);
  });

  it('exits with status 2 (usage) on a bad period, in argv or on stdin', () => {
    for (const [args, input] of [[['pidtick', '0'], ''], [['pidtick'], ''], [['pidtick', '--list', '0', '50'], ''], [['pidtick', '50'], 'soon\n']] as const) {
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
