"""Reading dpu-agent's flow table from Python, a page at a time (docs/agent.md).

The table of a node may hold a million rules: more than one gRPC reply can carry (grpcio's
default receive limit is 4 MiB). These helpers walk it page by page through DumpFlows or read
it as one StreamFlows call, so a caller writes a for loop and never sees a page token:

    import grpc
    from libdpu.agent.v1 import agent_pb2, agent_pb2_grpc   # stubs generated from agent.proto
    import dpu_agent_client

    stub = agent_pb2_grpc.DpuAgentStub(grpc.insecure_channel("unix:/run/dpu-agent.sock"))
    for flow in dpu_agent_client.iter_flows(stub, agent_pb2.DumpFlowsRequest(owner="none")):
        print(flow.id, flow.rule)

The request carries the filters (owner, chain, id_prefix) and the page size; its page_token is
managed here. Only grpcio and the generated stubs are needed; the stubs' import path is the
caller's (the helpers take the stub and a request message, whatever package they came from).

Consistency: pages follow the table's id order from where the previous page stopped, so every
rule present for the whole walk is yielded exactly once, in id order; a rule added or deleted
during the walk may or may not be.
"""

DEFAULT_PAGE_SIZE = 1000  # Flows per page when the request says 0 (the agent allows 1..10000).


def _first_request(request, page_size):
    """A copy of @request with page_size set (page_token cleared)."""
    req = type(request)()
    req.CopyFrom(request)
    if page_size is not None:
        req.page_size = page_size
    if req.page_size == 0:
        req.page_size = DEFAULT_PAGE_SIZE
    req.page_token = ""
    return req


def iter_flow_pages(stub, request, page_size=None, timeout=None):
    """Yields each DumpFlowsResponse page of DumpFlows(@request), following next_page_token.

    @stub: a DpuAgentStub. @request: a DumpFlowsRequest (filters; its page_token is ignored).
    @page_size: flows per page (default: the request's, or DEFAULT_PAGE_SIZE when it is 0).
    @timeout: seconds per page call. Errors are grpc.RpcError, raised where the page failed
    (the pages before it have been yielded).
    """
    req = _first_request(request, page_size)
    while True:
        page = stub.DumpFlows(req, timeout=timeout)
        yield page
        if not page.next_page_token:
            return
        req.page_token = page.next_page_token


def iter_flows(stub, request, page_size=None, timeout=None):
    """Yields every Flow of DumpFlows(@request), page after page (see iter_flow_pages)."""
    for page in iter_flow_pages(stub, request, page_size=page_size, timeout=timeout):
        yield from page.flows


def stream_flows(stub, request, page_size=None, timeout=None):
    """Yields every Flow of one StreamFlows(@request) call (the agent sends the pages).

    Faster than paging for a whole table (one call); @timeout bounds the whole stream.
    Breaking out of the loop cancels the call.
    """
    req = _first_request(request, page_size)
    call = stub.StreamFlows(req, timeout=timeout)
    try:
        for page in call:
            yield from page.flows
    finally:
        call.cancel()  # A no-op once the stream has ended.


def count_flows(stub, request, page_size=None, timeout=None):
    """The number of flows DumpFlows(@request) lists, counted page by page."""
    return sum(len(page.flows)
               for page in iter_flow_pages(stub, request, page_size=page_size, timeout=timeout))
