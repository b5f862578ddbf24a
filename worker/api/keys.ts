import { PREFIX } from '../../shared/layout.js';

/** Keys the API reads or writes beyond shared/layout.ts. */

/** Uploads made through the API: `incoming/api/<upload id>.csv`. */
export const API_UPLOAD_PREFIX = `${PREFIX.incoming}api/`;

export const apiUploadKey = (uploadId: string): string => `${API_UPLOAD_PREFIX}${uploadId}.csv`;

/** `forecasts/<YYYY-MM-DD>.csv`, written by the forecast command. */
export const forecastDayKey = (date: string): string => `${PREFIX.forecasts}${date}.csv`;

/** A model version's registry record (status, notes), when the registry has one. */
export const registryVersionKey = (version: string): string => `registry/versions/${version}.json`;

/** The rolling daily predictions file, when the daily job has written one. */
export const DAILY_LATEST_KEY = 'daily/latest_preds.csv';

/** Upload ids are UUIDs (crypto.randomUUID). */
export const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Run ids: `<yyyymmddThhmmssZ>-<16 hex>` (shared/manifest.ts runIdOf), optionally with a shard suffix. */
export const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{16}(?:[.-][0-9a-z]{1,16})?$/;
