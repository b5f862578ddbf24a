/** The part of jsfive's API (it ships no type declarations) that model/keras-h5.ts reads. */
declare module 'jsfive' {
  export type AttributeValue = string | number | bigint | (string | number | bigint)[];

  export class Group {
    readonly name: string;
    readonly keys: string[];
    readonly attrs: Record<string, AttributeValue>;
    get(path: string): Group | Dataset | null;
  }

  export class Dataset {
    readonly name: string;
    readonly shape: number[];
    readonly dtype: string | unknown;
    readonly attrs: Record<string, AttributeValue>;
    readonly value: ArrayLike<number | bigint> | unknown;
  }

  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
}
