// Replace with your stack's outputs (cdk deploy prints them): LiveStatusRealtimeUrl and the
// host of LiveStatusGraphQLUrl. The local AWS test writes its own config.js next to a copy.
window.PAYOPS_LIVE_STATUS = {
  realtimeUrl: "wss://EXAMPLE.appsync-realtime-api.ap-northeast-1.amazonaws.com/graphql",
  graphqlHost: "EXAMPLE.appsync-api.ap-northeast-1.amazonaws.com",
};
