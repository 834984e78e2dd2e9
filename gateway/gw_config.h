/*  gw_config: the gateway's settings, each a flag with a CHAT_* variable. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

typedef struct {
    long port;                  //  HTTP/WebSocket port (0 = any free port: gw_server_port, ready_file)
    const char *listen;         //  interface or address to listen on ("" = all)
    const char *tls_cert;       //  PEM certificate (chain) file: serve https, wss ("" = plain)
    const char *tls_key;        //  PEM private key file of tls_cert
    const char *origins;        //  --allowed-origins: pages that may open /ws (gw_origin.h)
    const char *registry;       //  registry ROUTER endpoints, comma-separated (a quorum)
    const char *registry_pub;   //  registry PUB endpoints ("" = each registry's port + 1)
    const char *www;            //  directory served at /
    long rate;                  //  sendMessage/createRoom per second per connection (0 = no limit)
    long burst;                 //  token bucket size
    long queue_max;             //  frames queued per connection before it is closed (1008)
    long max_pending;           //  requests in flight per connection, past this: rate_limited
    long heartbeat_ms;          //  GatewayHeartbeat interval to each roomd
    long request_timeout_ms;    //  wait for one attempt of a request
    long retry_ms;              //  keep retrying a room request this long before unavailable
    long rooms_info_timeout_ms; //  a directory refresh waits this long for a roomd's figures
    long directory_refresh_ms;  //  at most one round of figures from the roomds per this
    long directory_wait_ms;     //  a getRooms waits this long for the catalog, then unavailable
    long registry_stale_ms;     //  registry silent this long = unhealthy, re-read its snapshot
    long idle_ms;               //  close a client silent this long with 1001 (0 = never)
    long rx_buffer;             //  lws receive buffer per connection (bytes)
    long accept_burst;          //  connections accepted per loop turn at most
    const char *event_lib;      //  "ev" (libev on epoll) or "poll" (lws's own)
    const char *log_level;      //  debug, info, warn, error
    const char *ready_file;     //  written once listening: "port N" ("" = none)
} gw_config_t;

//  Fills config with the defaults (what an empty command line gives).
void gw_config_defaults(gw_config_t *config);

//  Parses argv and the environment. Returns 0, 1 after --help, -1 after an
//  error was printed. Strings are borrowed from argv, environ or constants.
int gw_config_parse(gw_config_t *config, int argc, char **argv);

#endif
