/**
 * -Q/--filter (src/core/filter.ts): the scols-filter(5) subset lsns -Q takes, parsed and
 * evaluated on plain rows and on `nsm ls` rows of the captured /proc (test/fixtures/proc).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileFilter, FilterSyntaxError, parseFilter, type FilterColumn } from '../../src/core/filter.js';
import { listNamespaces } from '../../src/core/listing.js';
import { UsageError } from '../../src/sys/errors.js';
import { columnFilter } from '../../src/commands/column-filter.js';
import { NAMESPACE_COLUMNS } from '../../src/ui/namespace-columns.js';

interface Row {
  ns: number;
  type: string;
  nprocs: number;
  pid?: number;
  user?: string;
  command?: string;
  netnsid?: number | 'unassigned';
  held: string[];
}

const COLS: Record<string, FilterColumn<Row>> = {
  NS: { numeric: true, get: (r) => r.ns },
  TYPE: { numeric: false, get: (r) => r.type },
  NPROCS: { numeric: true, get: (r) => r.nprocs },
  PID: { numeric: true, get: (r) => r.pid },
  USER: { numeric: false, get: (r) => r.user },
  COMMAND: { numeric: false, get: (r) => r.command },
  NETNSID: { numeric: false, get: (r) => r.netnsid },
  HELD: { numeric: false, get: (r) => r.held },
};

const ROWS: Row[] = [
  { ns: 4026531833, type: 'net', nprocs: 120, pid: 1, user: 'root', command: '/sbin/init', netnsid: 'unassigned', held: ['procs'] },
  { ns: 4026532300, type: 'net', nprocs: 2, pid: 42, user: 'www', command: 'web --port 8080', netnsid: 3, held: ['procs', 'mount'] },
  { ns: 4026532400, type: 'net', nprocs: 0, netnsid: 12, held: ['fd'] },
  { ns: 4026532301, type: 'uts', nprocs: 9, pid: 42, user: 'www', command: 'web --port 8080', held: ['procs'] },
  { ns: 4026531837, type: 'user', nprocs: 130, pid: 1, user: 'root', command: '/sbin/init', held: ['procs'] },
];

/** The ns of the rows EXPR keeps. */
function select(expr: string): number[] {
  const test = compileFilter(parseFilter(expr), (name) => COLS[name.toUpperCase()]);
  return ROWS.filter(test).map((r) => r.ns);
}

function syntaxError(expr: string): FilterSyntaxError {
  try {
    parseFilter(expr);
  } catch (err) {
    expect(err).toBeInstanceOf(FilterSyntaxError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as FilterSyntaxError;
  }
  throw new Error(`no error for ${expr}`);
}

describe('parseFilter / compileFilter', () => {
  it('compares numeric columns as numbers, not text', () => {
    // As text "120" < "9"; as numbers not.
    expect(select('NPROCS > 9')).toEqual([4026531833, 4026531837]);
    expect(select('NPROCS >= 9')).toEqual([4026531833, 4026532301, 4026531837]);
    expect(select('NPROCS < 2')).toEqual([4026532400]);
    expect(select('NPROCS <= 2')).toEqual([4026532300, 4026532400]);
    expect(select('NS == 4026532400')).toEqual([4026532400]);
    expect(select('NS != 4026532400').length).toBe(4);
  });

  it('compares string columns with quoted strings, either quote', () => {
    expect(select('TYPE == "uts"')).toEqual([4026532301]);
    expect(select("USER != 'root'")).toEqual([4026532300, 4026532400, 4026532301]);
    expect(select('COMMAND == "web --port 8080"')).toEqual([4026532300, 4026532301]);
  });

  it('an empty numeric cell fails every comparison (libsmartcols u64 rule)', () => {
    expect(select('PID == 0')).toEqual([]);
    expect(select('PID != 1')).toEqual([4026532300, 4026532301]);
    expect(select('PID')).toEqual([4026531833, 4026532300, 4026532301, 4026531837]);
    expect(select('!PID')).toEqual([4026532400]);
  });

  it('&& binds tighter than ||; ! tighter than both; parentheses group', () => {
    expect(select('TYPE == "uts" || TYPE == "net" && NPROCS == 0')).toEqual([4026532400, 4026532301]);
    expect(select('(TYPE == "uts" || TYPE == "net") && NPROCS == 0')).toEqual([4026532400]);
    expect(select('!(TYPE == "net") && NPROCS > 100')).toEqual([4026531837]);
    expect(select('! TYPE == "net"')).toEqual([]); // (!TYPE) == "net": false == "net"
    expect(select('!!(NS == 4026532300)')).toEqual([4026532300]);
  });

  it('takes the spelled operators (lower or upper case), as lsns', () => {
    expect(select('USER ne "root" and NPROCS gt 1')).toEqual([4026532300, 4026532301]);
    expect(select('NPROCS LT 1 OR NPROCS GE 130')).toEqual([4026532400, 4026531837]);
    expect(select('not (TYPE eq "net") and NPROCS le 9')).toEqual([4026532301]);
    expect(select('TYPE == "net" && not NPROCS')).toEqual([4026532400]);
  });

  it('=~ and !~ match a regular expression anywhere in the text; lists join with ","', () => {
    expect(select('COMMAND =~ "^web "')).toEqual([4026532300, 4026532301]);
    expect(select("COMMAND !~ 'init' && TYPE == 'net'")).toEqual([4026532300, 4026532400]);
    expect(select('HELD =~ "(^|,)mount(,|$)"')).toEqual([4026532300]);
    expect(select('HELD == "procs,mount"')).toEqual([4026532300]);
    expect(select('NS =~ "^40265324"')).toEqual([4026532400]);
  });

  it('a text column against a number literal compares as a number where it is one (NETNSID)', () => {
    expect(select('NETNSID == 3')).toEqual([4026532300]);
    expect(select('NETNSID > 4')).toEqual([4026532400]); // 12 > 4, though "12" < "4" as text
    expect(select('NETNSID == "unassigned"')).toEqual([4026531833]);
    expect(select('NETNSID != 3 && TYPE == "net"')).toEqual([4026531833, 4026532400]);
    // A number column against a string literal: the literal's type (text).
    expect(select('NS == "4026532400"')).toEqual([4026532400]);
  });

  it('numbers with size suffixes, decimals, true/false', () => {
    expect(select('NPROCS > 0.5K')).toEqual([]);
    expect(select('NPROCS < 1K && NPROCS > 99.5')).toEqual([4026531833, 4026531837]);
    expect(select('NPROCS < 1KiB && NPROCS >= 130')).toEqual([4026531837]);
    expect(select('true')).toHaveLength(5);
    expect(select('FALSE || NS == 4026532301')).toEqual([4026532301]);
    expect(select('(NPROCS > 100) == true')).toEqual([4026531833, 4026531837]);
  });

  it('bad expressions: one error naming the fault and its 1-based position', () => {
    expect(syntaxError('NPROCS >').message).toBe('--filter: expected a column, number or string but found end of expression at position 9');
    expect(syntaxError('(NPROCS > 1').message).toBe("--filter: expected ')' but found end of expression at position 12");
    expect(syntaxError('NPROCS > 1)').message).toBe("--filter: unexpected ')' at position 11");
    expect(syntaxError('TYPE = "net"').message).toBe("--filter: unexpected '=' (use ==) at position 6");
    expect(syntaxError('TYPE == "net').message).toBe('--filter: unterminated string (missing ") at position 9');
    expect(syntaxError('COMMAND =~ web').position).toBe(12);
    expect(syntaxError('COMMAND =~ "("').message).toMatch(/^--filter: bad regular expression "\(" .* at position 12$/);
    expect(syntaxError('NPROCS > 1 > 0').message).toBe("--filter: comparisons do not chain: add parentheses before '>' at position 12");
    expect(syntaxError('NPROCS > 12ab').position).toBe(10);
    expect(syntaxError('NPROCS # 1').position).toBe(8);
    expect(syntaxError('').message).toBe('--filter: expected a column, number or string but found end of expression at position 1');
    expect(syntaxError('&& NS').position).toBe(1);
    expect(syntaxError('x'.repeat(1025)).message).toMatch(/longer than 1024/);
  });

  it('an unknown column is a usage error naming it and its position', () => {
    let err: unknown;
    try {
      compileFilter(parseFilter('NPROCS > 1 && BOGUS == 2'), (name) => COLS[name], Object.keys(COLS));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(`--filter: unknown column BOGUS at position 15 (known: ${Object.keys(COLS).join(', ')})`);
  });
});

describe('columnFilter on nsm ls rows of test/fixtures/proc', () => {
  const procRoot = fileURLToPath(new URL('../fixtures/proc', import.meta.url));

  it('binds names case-insensitively to the ls columns and keeps the matching rows', async () => {
    const { namespaces } = await listNamespaces({ procRoot, types: ['net'] });
    const keep = (expr: string) => namespaces.filter(columnFilter(NAMESPACE_COLUMNS, expr).test).map((r) => r.ns);
    expect(keep('NPROCS == 0')).toEqual([4026532400, 4026532500]);
    expect(keep('nprocs > 0 and command =~ "^web"')).toEqual([4026532300]);
    expect(keep('HELD == "mount" && NAME == "netns:blue" && NSFS == "/run/netns/blue"')).toEqual([4026532500]);
    expect(keep('PID >= 42')).toEqual([4026532300]);
    expect(columnFilter(NAMESPACE_COLUMNS, 'PNS == 0 || NETNSID').columns.map((c) => c.id)).toEqual(['PNS', 'NETNSID']);
  });
});
