import { expect } from 'chai';
import { API_ROUTES } from '../../infra/api.js';
import { API_DEFAULTS } from '../../shared/worker-env.js';
import { grants, ofType, programRun, single, statements, type StackRun } from './fixture.js';

describe('infra: the REST API (HTTP API + Lambda), its role, IAM authorization and completion events', () => {
  let run: StackRun;
  let bucketArn: string;
  before(async () => {
    run = await programRun();
    bucketArn = single(run.resources, 'aws:s3/bucket:Bucket').state.arn;
  });

  it('runs the bundled app (dist/api) on Node.js 24 with the bucket and the documented body limit', () => {
    const fn = single(run.resources, 'aws:lambda/function:Function', '-api-fn').inputs;
    expect(fn.runtime).to.equal('nodejs24.x');
    expect(fn.handler).to.equal('index.handler');
    expect(fn.code.__pulumiArchive, 'a file archive (of dist/api)').to.equal(true);
    expect(fn.environment.variables).to.deep.equal({
      BUCKET: run.outputs.bucket_name,
      API_MAX_BODY_BYTES: String(API_DEFAULTS.maxBodyBytes),
      API_PRESIGN_SECONDS: String(API_DEFAULTS.presignSeconds),
    });
    expect(fn.timeout).to.be.below(30);
  });

  it('the Lambda role writes only incoming/api/ and reads only what responses show', () => {
    const role = single(run.resources, 'aws:iam/role:Role', '-api-role');
    expect(statements(role.inputs.assumeRolePolicy)[0]!.Principal).to.deep.equal({ Service: 'lambda.amazonaws.com' });
    const policy = single(run.resources, 'aws:iam/rolePolicy:RolePolicy', '-api-role-policy').inputs.policy;
    const g = grants(policy);
    expect(g.WriteApiUploads).to.deep.equal({ actions: ['s3:PutObject'], resources: [`${bucketArn}/incoming/api/*`] });
    expect(g.ReadWhatResponsesShow!.actions).to.deep.equal(['s3:GetObject']);
    expect(g.ReadWhatResponsesShow!.resources).to.deep.equal(
      ['forecasts/', 'incoming/api/', 'models/', 'registry/versions/', 'runs/', 'status/'].map((p) => `${bucketArn}/${p}*`),
    );
    const actions = statements(policy).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((a) => a!.startsWith('sqs:') || a === 's3:DeleteObject' || a === '*' || a === 's3:*')).to.deep.equal([]);
    const writes = statements(policy).filter((s) => (s.Action as string[]).includes('s3:PutObject'));
    expect(writes.flatMap((s) => s.Resource)).to.deep.equal([`${bucketArn}/incoming/api/*`]);
  });

  it('every route of docs/openapi.yaml is an IAM-authorized route to the Lambda; the invoke policy names exactly those', () => {
    const routes = ofType(run.resources, 'aws:apigatewayv2/route:Route').map((r) => r.inputs);
    expect(routes.map((r) => r.routeKey).sort()).to.deep.equal([...API_ROUTES].sort());
    for (const r of routes) expect(r.authorizationType, r.routeKey).to.equal('AWS_IAM');
    expect(single(run.resources, 'aws:apigatewayv2/api:Api').inputs.protocolType).to.equal('HTTP');
    expect(single(run.resources, 'aws:apigatewayv2/integration:Integration').inputs).to.include({ integrationType: 'AWS_PROXY', payloadFormatVersion: '2.0' });
    const permission = single(run.resources, 'aws:lambda/permission:Permission', '-api-invoke').inputs;
    expect(permission).to.include({ action: 'lambda:InvokeFunction', principal: 'apigateway.amazonaws.com' });
    const invoke = statements(single(run.resources, 'aws:iam/policy:Policy', '-api-invoke-policy').inputs.policy);
    expect(invoke).to.have.length(1);
    expect(invoke[0]!.Action).to.deep.equal(['execute-api:Invoke']);
    expect((invoke[0]!.Resource as string[]).map((r) => r.replace(/^.*\/\$default\//, ''))).to.deep.equal([
      'POST/runs',
      'POST/runs/uploads',
      'GET/runs/*',
      'GET/forecasts/*',
      'GET/models',
    ]);
    expect(run.outputs.api_invoke_policy_arn).to.match(/^arn:aws:iam::/);
    expect(run.outputs.api_url).to.match(/^https:\/\/.*\.execute-api\./);
    const executionArn = single(run.resources, 'aws:apigatewayv2/api:Api').state.executionArn;
    expect(invoke[0]!.Resource).to.deep.equal(
      ['POST/runs', 'POST/runs/uploads', 'GET/runs/*', 'GET/forecasts/*', 'GET/models'].map((r) => `${executionArn}/$default/${r}`),
    );
    expect(permission.sourceArn).to.equal(`${executionArn}/*/*`);
  });

  it('publishes a completion event to SNS for each new manifest.json or error.json under runs/', () => {
    expect(single(run.resources, 'aws:s3/bucketNotification:BucketNotification').inputs.eventbridge).to.equal(true);
    const pattern = JSON.parse(single(run.resources, 'aws:cloudwatch/eventRule:EventRule', '-api-run-finished').inputs.eventPattern);
    expect(pattern).to.deep.equal({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [run.outputs.bucket_name] }, object: { key: [{ wildcard: 'runs/*/manifest.json' }, { wildcard: 'runs/*/error.json' }] } },
    });
    const topic = single(run.resources, 'aws:sns/topic:Topic', '-api-completions');
    expect(single(run.resources, 'aws:cloudwatch/eventTarget:EventTarget', '-api-run-finished-target').inputs.arn).to.equal(topic.state.arn);
    const [allow] = statements(single(run.resources, 'aws:sns/topicPolicy:TopicPolicy', '-api-completions-policy').inputs.policy);
    expect(allow).to.deep.include({ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: ['sns:Publish'] });
    expect(run.outputs.completion_topic_arn).to.equal(topic.state.arn);
  });
});
