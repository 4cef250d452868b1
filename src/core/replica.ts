// Live state kept in every process's memory and kept the same across the processes of a cluster
// (spec/scaling.md): a service sends each change it makes as a message, and applies the changes the
// other processes send. One process has no link and sends nothing.
export interface ReplicaLink<T> {
  send(change: T): void;
  /** Changes sent by other processes, in the order each process sent them. */
  onReceive(fn: (change: T) => void): void;
}
