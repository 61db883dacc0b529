/**
 * Concurrent reservations from separate processes (test/fixtures/registry-child.mjs), the
 * way parallel `nsm create`s race: exactly one wins a name, distinct names never collide,
 * and a creator killed mid-create leaves a reservation the next one reclaims.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvironmentExistsError, listEnvironments, reserve } from '../../src/core/registry.js';
import { cleanup, killAndWait, runChild, startChild, startSleep, tempStateDir } from './registry-helpers.js';

afterEach(cleanup);

describe('concurrent reservations (separate processes)', () => {
  it('10 parallel creates of one name: exactly one wins, the others fail cleanly', async () => {
    const stateDir = tempStateDir();
    const holder = await startSleep();
    const env = { ...process.env, NSM_STATE_DIR: stateDir };
    // All children wait for the same instant, then reserve; the winner holds its reservation
    // for 800 ms before committing, so losers meet "being created" (and late ones "already exists").
    const startAt = Date.now() + 2500;
    const results = await Promise.all(
      Array.from({ length: 10 }, () => runChild(['reserve', 'same', String(holder.pid), String(startAt), '800'], { env })),
    );
    const winners = results.filter((r) => r.code === 0);
    const losers = results.filter((r) => r.code !== 0);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.lines.map((l) => l.step)).toEqual(['reserved', 'committed']);
    expect(losers).toHaveLength(9);
    for (const l of losers) {
      expect(l.code).toBe(1);
      expect(l.stderr).toBe('');
      const [line] = l.lines;
      expect(line).toMatchObject({ ok: false, name: 'EnvironmentExistsError', exitCode: 1 });
      expect(line!.message).toMatch(/^environment same already exists(: it is being created \(by nsm PID \d+\)| \(holder PID \d+\))$/);
      if (line!.reason === 'exists') expect(line!.pid).toBe(holder.pid);
    }
    // The race was real: some loser met the winner's reservation before it committed.
    expect(losers.filter((l) => l.lines[0]!.reason === 'creating').length).toBeGreaterThan(0);
    const listing = listEnvironments({ stateDir });
    expect(listing.environments.map((e) => [e.name, e.state, e.record.holder.pid])).toEqual([['same', 'running', holder.pid]]);
    expect(listing.creating).toEqual([]);
    // Losers leave nothing: one directory with only the record, no temp files.
    expect(readdirSync(join(stateDir, 'envs'))).toEqual(['same']);
    expect(readdirSync(join(stateDir, 'envs', 'same'))).toEqual(['env.json']);
  });

  it('20 parallel creates of distinct names all succeed', async () => {
    const stateDir = tempStateDir();
    const holder = await startSleep();
    const env = { ...process.env, NSM_STATE_DIR: stateDir };
    const startAt = Date.now() + 3000;
    const names = Array.from({ length: 20 }, (_, i) => `env-${i}`);
    const results = await Promise.all(names.map((n) => runChild(['reserve', n, String(holder.pid), String(startAt), '50'], { env })));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const listing = listEnvironments({ stateDir });
    expect(listing.environments.map((e) => e.name).sort()).toEqual([...names].sort());
    expect(listing.environments.every((e) => e.state === 'running')).toBe(true);
    expect(readdirSync(join(stateDir, 'envs')).sort()).toEqual([...names].sort());
  });

  it('a reservation whose creator was killed is reclaimed by the next create', async () => {
    const stateDir = tempStateDir();
    const env = { ...process.env, NSM_STATE_DIR: stateDir };
    const { child, first } = await startChild(['hang', 'orphan'], env);
    expect(first).toMatchObject({ ok: true, step: 'reserved', pid: child.pid });
    // While the creator lives, the name is taken.
    let caught: unknown;
    try {
      reserve('orphan', { stateDir });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EnvironmentExistsError);
    expect(caught).toMatchObject({ reason: 'creating', pid: child.pid });
    expect((caught as Error).message).toBe(`environment orphan already exists: it is being created (by nsm PID ${child.pid})`);

    await killAndWait(child.pid!);
    const r = reserve('orphan', { stateDir });
    expect(r.reclaimed?.creator.pid).toBe(child.pid);
    expect(r.replaced).toBeUndefined();
    expect(readdirSync(r.dir)).toEqual(['reservation.json']);
    r.abort();
    expect(readdirSync(join(stateDir, 'envs'))).toEqual([]);
  });
});
