import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePasswd } from '../../src/sys/users.js';

describe('parsePasswd', () => {
  const text = readFileSync(new URL('../fixtures/captured/passwd.txt', import.meta.url), 'utf8');

  it('maps uids to names from a real /etc/passwd', () => {
    const users = parsePasswd(text);
    expect(users.get(0)).toBe('root');
    expect(users.get(65534)).toBe('nobody');
    expect(users.size).toBe(text.split('\n').filter((l) => l.includes(':')).length);
  });

  it('keeps the first name of a duplicated uid and skips comments and junk', () => {
    const users = parsePasswd('# comment\nroot:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nbroken\n:x:5:5::/:/bin/sh\nbad:x:uid:0::/:/bin/sh\n');
    expect([...users]).toEqual([[0, 'root']]);
  });
});
