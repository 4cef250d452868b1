// The Synapse harness (test/helpers/synapse.ts) fails, never skips, when Synapse cannot start: a
// missing venv says how to make it; a Synapse that exits during start-up is reported with the tail
// of its log, and leaves no process behind.
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startSynapse, SYNAPSE_START_TIMEOUT_MS, synapseVenv, SynapseStartError } from '../helpers/synapse.js';

jest.setTimeout(SYNAPSE_START_TIMEOUT_MS);

describe('startSynapse', () => {
  const saved = process.env.HEARTH_SYNAPSE_VENV;
  afterEach(() => {
    if (saved === undefined) delete process.env.HEARTH_SYNAPSE_VENV;
    else process.env.HEARTH_SYNAPSE_VENV = saved;
  });

  it('fails with a message saying how to make the venv when HEARTH_SYNAPSE_VENV names none', async () => {
    process.env.HEARTH_SYNAPSE_VENV = '/nonexistent/venv';
    await expect(startSynapse()).rejects.toThrow(/The Synapse venv is missing \(no \/nonexistent\/venv\/bin\/python\)[\s\S]*npm run synapse:venv[\s\S]*synapse-requirements\.txt/);
  });

  it('finds the venv the suite runs with, with the pinned Synapse in it', () => {
    const python = `${synapseVenv()}/bin/python`;
    expect(existsSync(python)).toBe(true);
    const version = execFileSync(python, ['-c', 'import synapse; print(synapse.__version__)'], { encoding: 'utf8' }).trim();
    expect(version).toMatch(/^1\.163\.2/);
  });

  it('reports a Synapse that exits during start-up, with the tail of its output, and leaves no process', async () => {
    const err = await startSynapse({ label: 'synapse-harness-crash', config: { default_room_version: '999' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SynapseStartError);
    expect((err as Error).message).toMatch(/^Synapse exited \(code 1, signal null\) before it answered on http:\/\/127\.0\.0\.1:\d+/);
    expect((err as Error).message).toMatch(/--- tail of its stdout\/stderr ---[\s\S]*Unknown default_room_version: 999/);
    const running = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('synapse.app.homeserver') && l.includes('hearth-synapse-'));
    expect(running).toEqual([]);
  });
});
