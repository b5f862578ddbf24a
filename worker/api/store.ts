import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { isNotFound } from '../runtime/failures.js';
import { BucketObjects } from '../runtime/s3-objects.js';

/** The bucket as the API's handlers read it: missing objects are null, links are presigned. */
export class ApiStore {
  readonly objects: BucketObjects;
  constructor(
    readonly s3: S3Client,
    readonly bucket: string,
    readonly presignSeconds: number,
  ) {
    this.objects = new BucketObjects(s3, bucket);
  }

  async text(key: string): Promise<string | null> {
    try {
      return Buffer.from((await this.objects.getBytes(key)).body).toString('utf8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async json<T>(key: string): Promise<T | null> {
    const text = await this.text(key);
    return text === null ? null : (JSON.parse(text) as T);
  }

  presignGet(key: string): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: this.presignSeconds });
  }

  presignPut(key: string, contentType: string): Promise<string> {
    return getSignedUrl(this.s3, new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }), { expiresIn: this.presignSeconds });
  }
}
