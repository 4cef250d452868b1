// One position for everything a client syncs (see ../shared/docs/design-notes.md): every persisted
// event, receipt, account-data change and to-device message, and every typing or presence change,
// takes the next position from this counter. Ephemeral changes are not stored, so the counter
// reserves positions in blocks: the ceiling of the current block is stored before a position in it
// is handed out, and start-up resumes after max(highest stored position, stored ceiling). No
// position is ever handed out twice, across restarts too.

export const POSITION_BLOCK = 1000;

export class StreamPositions {
  private position: number;
  private ceiling: number;

  /** `reserve(ceiling)` stores a new ceiling synchronously before positions up to it are used. */
  constructor(start: number, private readonly reserve: (ceiling: number) => void = () => {}) {
    this.position = start;
    this.ceiling = start;
  }

  /** The highest position handed out so far. */
  get current(): number {
    return this.position;
  }

  next(): number {
    this.position += 1;
    if (this.position > this.ceiling) {
      this.ceiling = this.position + POSITION_BLOCK;
      this.reserve(this.ceiling);
    }
    return this.position;
  }
}
