<?php
/**
 * The calls to the Concierge server, made by WordPress (never by the visitor's browser).
 *
 * @package AI_Assistant
 */

namespace Concierge\AI_Assistant;

use WP_Error;

defined( 'ABSPATH' ) || exit;

/**
 * A small client of the Concierge API: health, the assistants (GraphQL) and one assistant (REST).
 *
 * Errors are WP_Error objects whose message says what happened (the HTTP status and the server's message, or
 * the transport error) and whose data holds the HTTP status, when there is one.
 */
class Client {

	/** Seconds to wait for the server. */
	const TIMEOUT = 8;

	/**
	 * The server's base URL, without a trailing slash.
	 *
	 * @var string
	 */
	private $server_url;

	/**
	 * The API key (ck_…), or ''.
	 *
	 * @var string
	 */
	private $api_key;

	/**
	 * A client of the server at `$server_url`, authenticated with `$api_key`.
	 *
	 * @param string $server_url The server's base URL.
	 * @param string $api_key    The API key.
	 */
	public function __construct( string $server_url, string $api_key ) {
		$this->server_url = untrailingslashit( $server_url );
		$this->api_key    = $api_key;
	}

	/**
	 * GET /healthz: true when the server answers {"status":"ok"}.
	 *
	 * @return true|WP_Error
	 */
	public function health() {
		$response = wp_remote_get( $this->server_url . '/healthz', $this->args( false ) );
		$body     = $this->decode( $response );
		if ( is_wp_error( $body ) ) {
			return $body;
		}
		if ( ! isset( $body['status'] ) || 'ok' !== $body['status'] ) {
			return new WP_Error(
				'ai_assistant_unhealthy',
				sprintf(
					/* translators: %s: the server's answer. */
					__( 'The server is not healthy: %s', 'ai-assistant' ),
					wp_json_encode( $body )
				)
			);
		}
		return true;
	}

	/**
	 * The organization's assistants through GraphQL, `{ assistants { id name } }`.
	 *
	 * GraphQL needs the standard plan or above: a basic plan's key gets HTTP 403 (the error's data says so).
	 *
	 * @return array<int, array{id: string, name: string}>|WP_Error
	 */
	public function assistants() {
		$args         = $this->args( true );
		$args['body'] = wp_json_encode( array( 'query' => '{ assistants { id name } }' ) );
		$response     = wp_remote_post( $this->server_url . '/graphql', $args );
		$body         = $this->decode( $response );
		if ( is_wp_error( $body ) ) {
			return $body;
		}
		if ( ! empty( $body['errors'] ) || ! isset( $body['data']['assistants'] ) || ! is_array( $body['data']['assistants'] ) ) {
			return new WP_Error(
				'ai_assistant_graphql',
				sprintf(
					/* translators: %s: the server's error message. */
					__( 'The server did not list the assistants: %s', 'ai-assistant' ),
					$this->error_message( $body )
				),
				array( 'status' => 200 )
			);
		}
		$assistants = array();
		foreach ( $body['data']['assistants'] as $assistant ) {
			if ( ! is_array( $assistant ) ) {
				continue;
			}
			$id = Settings::assistant_id( $assistant['id'] ?? '' );
			if ( '' === $id ) {
				continue;
			}
			$name         = isset( $assistant['name'] ) && is_string( $assistant['name'] ) ? $assistant['name'] : $id;
			$assistants[] = array(
				'id'   => $id,
				'name' => $name,
			);
		}
		return $assistants;
	}

	/**
	 * GET /api/v1/assistants/{id}/embed (for the WordPress platform): whether the key can read this assistant (REST,
	 * so it works on every plan).
	 *
	 * @param string $assistant_id The assistant.
	 * @return array<string, mixed>|WP_Error The embed instructions.
	 */
	public function embed( string $assistant_id ) {
		$url      = add_query_arg(
			'platform',
			'wordpress', // phpcs:ignore WordPress.WP.CapitalPDangit -- the API's value.
			$this->server_url . '/api/v1/assistants/' . rawurlencode( $assistant_id ) . '/embed'
		);
		$response = wp_remote_get( $url, $this->args( true ) );
		return $this->decode( $response );
	}

	/**
	 * The request arguments.
	 *
	 * @param bool $authenticated Whether to send the API key.
	 * @return array<string, mixed>
	 */
	private function args( bool $authenticated ): array {
		$headers = array(
			'Accept'       => 'application/json',
			'Content-Type' => 'application/json',
		);
		if ( $authenticated && '' !== $this->api_key ) {
			$headers['Authorization'] = 'Bearer ' . $this->api_key;
		}
		return array(
			'timeout'     => self::TIMEOUT,
			'redirection' => 0,
			'headers'     => $headers,
			'user-agent'  => 'AI-Assistant-WordPress/' . AI_ASSISTANT_VERSION . '; ' . home_url( '/' ),
		);
	}

	/**
	 * The decoded JSON body of a 2xx response, else a WP_Error with the status and the server's message.
	 *
	 * @param array<string, mixed>|WP_Error $response What wp_remote_*() returned.
	 * @return array<string, mixed>|WP_Error
	 */
	private function decode( $response ) {
		if ( is_wp_error( $response ) ) {
			return $response;
		}
		$status = (int) wp_remote_retrieve_response_code( $response );
		$body   = json_decode( wp_remote_retrieve_body( $response ), true );
		if ( $status < 200 || $status >= 300 ) {
			$message = is_array( $body ) ? $this->error_message( $body ) : '';
			if ( '' === $message ) {
				$message = wp_remote_retrieve_response_message( $response );
			}
			return new WP_Error(
				'ai_assistant_http',
				sprintf(
					/* translators: 1: HTTP status code, 2: the server's message. */
					__( 'HTTP %1$d: %2$s', 'ai-assistant' ),
					$status,
					$message
				),
				array(
					'status' => $status,
					'code'   => is_array( $body ) ? $this->error_code( $body ) : '',
				)
			);
		}
		if ( ! is_array( $body ) ) {
			return new WP_Error(
				'ai_assistant_not_json',
				sprintf(
					/* translators: %d: HTTP status code. */
					__( 'HTTP %d, but the answer is not JSON: is this the address of a Concierge server?', 'ai-assistant' ),
					$status
				),
				array( 'status' => $status )
			);
		}
		return $body;
	}

	/**
	 * The message of a REST error ({"error": {"message"}}) or of the first GraphQL error ({"errors": [{"message"}]}).
	 *
	 * @param array<string, mixed> $body The decoded body.
	 */
	private function error_message( array $body ): string {
		if ( isset( $body['error']['message'] ) && is_string( $body['error']['message'] ) ) {
			return $body['error']['message'];
		}
		if ( isset( $body['errors'][0]['message'] ) && is_string( $body['errors'][0]['message'] ) ) {
			return $body['errors'][0]['message'];
		}
		if ( isset( $body['message'] ) && is_string( $body['message'] ) ) {
			return $body['message'];
		}
		return '';
	}

	/**
	 * The machine-readable code of a REST or GraphQL error, or ''.
	 *
	 * @param array<string, mixed> $body The decoded body.
	 */
	private function error_code( array $body ): string {
		if ( isset( $body['error']['code'] ) && is_string( $body['error']['code'] ) ) {
			return $body['error']['code'];
		}
		if ( isset( $body['errors'][0]['extensions']['code'] ) && is_string( $body['errors'][0]['extensions']['code'] ) ) {
			return $body['errors'][0]['extensions']['code'];
		}
		return '';
	}
}
