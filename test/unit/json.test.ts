import { describe, expect, it } from 'vitest';
import { printJson, printJsonLine, toJson } from '../../src/ui/json.js';

/** A Writer that keeps what it is given. */
function sink(): { write(s: string): boolean; text: string } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

describe('JSON output', () => {
  // A process can name itself anything (prctl PR_SET_NAME, its argv): here CSI (U+009B) + "2J",
  // which clears the screen of a terminal that takes 8-bit controls.
  const hostile = { command: 'evil\u009b2J\u007f\u2028x', path: '/tmp/\u0085' };

  it('escapes DEL, the C1 controls and U+2028/2029, which JSON.stringify leaves raw', () => {
    const text = toJson(hostile);
    expect(text).not.toMatch(/[\u007f-\u009f\u2028\u2029]/);
    expect(text).toContain('evil\\u009b2J\\u007f\\u2028x');
    expect(JSON.parse(text)).toEqual(hostile);
  });

  it('printJson and printJsonLine print them escaped, and the documents parse back the same', () => {
    const doc = sink();
    printJson(hostile, doc as never);
    const line = sink();
    printJsonLine(hostile, line as never);
    for (const out of [doc.text, line.text]) {
      expect(out).not.toMatch(/[\u007f-\u009f\u2028\u2029]/);
      expect(JSON.parse(out)).toEqual({ schemaVersion: 1, ...hostile });
    }
    expect(line.text.trimEnd().split('\n')).toHaveLength(1);
  });

  it('leaves other text as it is (accents, CJK, emoji)', () => {
    expect(toJson({ s: 'café 名前 🙂' })).toBe('{"s":"café 名前 🙂"}');
  });
});
