import * as pulumi from '@pulumi/pulumi';

/** One IAM statement, always with explicit actions and resources (no NotAction/NotResource). */
export interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Principal?: pulumi.Input<'*' | { Service: string } | { AWS: pulumi.Input<string> }>;
  Action: string[];
  Resource: pulumi.Input<string>[];
  Condition?: Record<string, Record<string, pulumi.Input<string | string[]>>>;
}

/**
 * "Only if the request carries If-None-Match": a write can then only create (S3 user guide, "Enforce conditional
 * writes on Amazon S3 buckets"). `s3:if-none-match` is a condition key of s3:PutObject.
 */
export const CREATE_ONLY = { Null: { 's3:if-none-match': 'false' } };

/**
 * The create-only prefixes of the bucket: what a run or a load writes there is never rewritten, nor an entry of the
 * model registry's change log or a day's accuracy record.
 */
export const CREATE_ONLY_PREFIXES = ['runs/', 'history/', 'registry/log/', 'accuracy/'] as const;

export interface TrustStatement {
  Effect: 'Allow';
  Principal: { Service: string };
  Action: 'sts:AssumeRole';
  Condition?: Record<string, Record<string, pulumi.Input<string>>>;
}

/** A policy document as the JSON string AWS stores, resolved from its inputs. */
export function policyJson(statements: Array<Statement | TrustStatement>): pulumi.Output<string> {
  return pulumi.jsonStringify({ Version: '2012-10-17', Statement: statements });
}
