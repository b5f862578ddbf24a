import { S3Client } from '@aws-sdk/client-s3';
import { handle } from 'hono/aws-lambda';
import { createApiApp } from './app.js';
import { apiConfigFromEnv } from './config.js';

/** The Lambda behind the HTTP API: the same app as locally; bundled by `npm run build:api` into dist/api/. */
const config = apiConfigFromEnv(process.env);
export const handler = handle(createApiApp({ s3: new S3Client({}), config }));
