/**
 * Which signals nsm passes on depends on whether the terminal sent them to our whole process
 * group already (src/sys/signals.ts); that is read from /proc/self/stat. Captured lines.
 */
import { describe, expect, it } from 'vitest';
import { exitStatus, inTerminalForeground } from '../../src/sys/signals.js';

describe('inTerminalForeground', () => {
  it('no controlling terminal (CI, a pipe): tpgid -1', () => {
    expect(inTerminalForeground('15557 (cat) R 15553 15553 18105 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 411012')).toBe(false);
  });

  it('in the terminal\'s foreground group: pgrp equals tpgid', () => {
    expect(inTerminalForeground('16010 (cat) R 16004 16010 16004 34816 16010 4194304 95 0 0 0 0 0 0 0 20 0 1 0 411620')).toBe(true);
  });

  it('in the background of a terminal (`nsm exec ... &`): tpgid is another group', () => {
    expect(inTerminalForeground('16010 (cat) S 16004 16010 16004 34816 16004 4194304 95 0 0 0 0 0 0 0 20 0 1 0 411620')).toBe(false);
  });

  it('a command name with spaces and parentheses does not shift the fields', () => {
    expect(inTerminalForeground('16010 (a) b (c) R 16004 16010 16004 34816 16010 4194304')).toBe(true);
  });
});

describe('exitStatus', () => {
  it('is the code, or 128+N for a signal', () => {
    expect(exitStatus(3, null)).toBe(3);
    expect(exitStatus(null, 'SIGKILL')).toBe(137);
    expect(exitStatus(null, 'SIGINT')).toBe(130);
  });
});
