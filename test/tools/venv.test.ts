// The tools venv helper (test/helpers/python.ts): a missing venv fails the test with a message that
// says how to make it; it never skips.
import { testVenv } from '../helpers/python.js';

describe('testVenv', () => {
  const saved = process.env.HEARTH_TEST_VENV;
  afterEach(() => {
    if (saved === undefined) delete process.env.HEARTH_TEST_VENV;
    else process.env.HEARTH_TEST_VENV = saved;
  });

  it('throws a clear message when HEARTH_TEST_VENV names no venv', () => {
    process.env.HEARTH_TEST_VENV = '/nonexistent/venv';
    expect(() => testVenv()).toThrow(/The Python tools venv is missing \(no \/nonexistent\/venv\/bin\/python\)[\s\S]*npm run test:venv[\s\S]*pip install -r test\/python\/requirements.txt/);
  });

  it('finds the venv the suite runs with', () => {
    expect(testVenv()).toMatch(/venv/);
  });
});
