/** A promise with its settle functions outside (Promise.withResolvers arrives in Node 22). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A deferred whose rejection is marked handled: a caller may ignore one of the promises it
 * is given (a broker answering acks=1 never awaits quorum durability) without the process
 * dying of an unhandled rejection, while anyone who awaits it still sees the error.
 */
export function quietDeferred<T>(): Deferred<T> {
  const d = deferred<T>();
  d.promise.catch(() => undefined);
  return d;
}
