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
