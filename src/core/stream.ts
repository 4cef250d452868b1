// One position for everything a client syncs (see ../shared/docs/design-notes.md): every persisted
// event (and, later, every receipt, typing or presence change...) takes the next position from this
// counter. At start-up it resumes after the highest persisted position.

export class StreamPositions {
  private position: number;

  constructor(start: number) {
    this.position = start;
  }

  /** The highest position handed out so far. */
  get current(): number {
    return this.position;
  }

  next(): number {
    this.position += 1;
    return this.position;
  }
}
