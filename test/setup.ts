// Loaded by mocha before any spec (.mocharc.json): the SDK's notice that later releases will need Node 22 is
// not a test outcome.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
