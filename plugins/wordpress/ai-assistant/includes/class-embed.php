<?php
/**
 * The front end: the embed script, its attributes, and the shortcode.
 *
 * @package AI_Assistant
 */

namespace Concierge\AI_Assistant;

defined( 'ABSPATH' ) || exit;

/**
 * Enqueues the server's embed.js (deferred, in the footer) and writes the widget's data-* attributes on its tag.
 *
 * One widget per page: the script is enqueued once, by "Show on every page" or by the first shortcode, block or
 * widget of the page. The first of those that names a theme, a position or an assistant sets it for the page,
 * over the defaults of the settings page.
 */
class Embed {

	/** The script's handle. */
	const HANDLE = 'ai-assistant-embed';

	/** The shortcode's tag. */
	const SHORTCODE = 'ai_assistant';

	/**
	 * The overrides asked for by a shortcode, block or widget on this page (null when none has).
	 *
	 * @var array{assistant_id: string, position: string, theme: string}|null
	 */
	private $overrides = null;

	/**
	 * Hooks the front end.
	 */
	public function register(): void {
		add_action( 'wp_enqueue_scripts', array( $this, 'enqueue_on_every_page' ) );
		add_filter( 'script_loader_tag', array( $this, 'filter_script_tag' ), 10, 3 );
		add_shortcode( self::SHORTCODE, array( $this, 'shortcode' ) );
	}

	/**
	 * Enqueues the script on every front-end page when that is on and the plugin is configured.
	 */
	public function enqueue_on_every_page(): void {
		$settings = Settings::get();
		if ( ! $settings['every_page'] || is_embed() ) {
			return;
		}
		$this->enqueue( $settings );
	}

	/**
	 * The [ai_assistant] shortcode: puts the widget on this page, with its theme, position and assistant when given.
	 *
	 * Prints nothing where it stands: the widget floats in a corner of the page.
	 *
	 * @param array<string, string>|string $atts The shortcode's attributes.
	 * @return string Always ''.
	 */
	public function shortcode( $atts ): string {
		$atts = shortcode_atts(
			array(
				'theme'     => '',
				'position'  => '',
				'assistant' => '',
			),
			is_array( $atts ) ? $atts : array(),
			self::SHORTCODE
		);
		$this->show( $atts );
		return '';
	}

	/**
	 * Puts the widget on this page: what the shortcode, the block and the widget do.
	 *
	 * Invalid values are ignored (the settings page's defaults apply). There is one widget per page: each of theme,
	 * position and assistant is set by the first call of the page that gives a valid one.
	 *
	 * @param array<string, mixed> $atts theme, position and assistant, each optional.
	 * @return bool Whether the widget is on the page (false when the plugin is not configured).
	 */
	public function show( array $atts ): bool {
		if ( is_admin() || is_feed() || is_embed() || ( defined( 'REST_REQUEST' ) && REST_REQUEST ) ) {
			return false;
		}

		$asked           = array(
			'assistant_id' => Settings::assistant_id( $atts['assistant'] ?? '' ),
			'position'     => Settings::position( $atts['position'] ?? '' ),
			'theme'        => Settings::theme( $atts['theme'] ?? '' ),
		);
		$this->overrides = $this->overrides ?? array(
			'assistant_id' => '',
			'position'     => '',
			'theme'        => '',
		);
		foreach ( $asked as $name => $value ) {
			if ( '' === $this->overrides[ $name ] ) {
				$this->overrides[ $name ] = $value;
			}
		}
		return $this->enqueue( Settings::get() );
	}

	/**
	 * Enqueues embed.js from the configured server, once.
	 *
	 * @param array<string, mixed> $settings The settings.
	 * @return bool Whether the script is enqueued.
	 */
	private function enqueue( array $settings ): bool {
		$assistant = $this->overrides['assistant_id'] ?? '';
		if ( '' === $settings['server_url'] || ( '' === $settings['assistant_id'] && '' === $assistant ) ) {
			return false;
		}
		if ( ! wp_script_is( self::HANDLE, 'enqueued' ) ) {
			// The fifth argument is $in_footer before WordPress 6.3 (an array is truthy), its loading strategy since.
			// phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion -- the server caches and versions embed.js itself.
			wp_enqueue_script(
				self::HANDLE,
				$settings['server_url'] . '/embed.js',
				array(),
				null,
				array(
					'strategy'  => 'defer',
					'in_footer' => true,
				)
			);
		}
		return true;
	}

	/**
	 * The widget's attributes for this page.
	 *
	 * @return array<string, string> Attribute name (after data-) to value; empty values are left out.
	 */
	public function attributes(): array {
		$settings  = Settings::get();
		$overrides = $this->overrides ?? array();
		$attrs     = array(
			'assistant-id' => '' !== ( $overrides['assistant_id'] ?? '' ) ? $overrides['assistant_id'] : $settings['assistant_id'],
			'position'     => '' !== ( $overrides['position'] ?? '' ) ? $overrides['position'] : $settings['position'],
			'theme'        => '' !== ( $overrides['theme'] ?? '' ) ? $overrides['theme'] : $settings['theme'],
		);
		if ( is_singular() ) {
			$post = get_queried_object();
			if ( $post instanceof \WP_Post ) {
				$title               = wp_strip_all_tags( get_the_title( $post ) );
				$attrs['page-title'] = html_entity_decode( $title, ENT_QUOTES, get_bloginfo( 'charset' ) );
				$attrs['page-url']   = (string) get_permalink( $post );
			}
		}

		/**
		 * Filters the data-* attributes of the embed script tag (names without the data- prefix).
		 *
		 * @param array<string, string> $attrs The attributes.
		 */
		$attrs = (array) apply_filters( 'ai_assistant_embed_attributes', $attrs );
		return array_filter(
			$attrs,
			static function ( $value ) {
				return is_scalar( $value ) && '' !== (string) $value;
			}
		);
	}

	/**
	 * Adds the data-* attributes (and defer, before WordPress 6.3) to the embed script's tag.
	 *
	 * @param string $tag    The HTML of the script tag(s) of the handle.
	 * @param string $handle The script's handle.
	 * @param string $src    The script's URL.
	 * @return string The tag.
	 */
	public function filter_script_tag( $tag, $handle, $src ) {
		if ( self::HANDLE !== $handle || ! is_string( $tag ) ) {
			return $tag;
		}
		$extra = '';
		foreach ( $this->attributes() as $name => $value ) {
			$name = sanitize_key( $name );
			if ( '' === $name ) {
				continue;
			}
			$value  = 'page-url' === $name ? esc_url( (string) $value ) : esc_attr( (string) $value );
			$extra .= sprintf( ' data-%s="%s"', $name, $value );
		}
		// The tag of this handle (not an inline script printed before or after it), found by its id.
		$pattern = '/<script\b([^>]*\bid=([\'"])' . preg_quote( self::HANDLE, '/' ) . '-js\2[^>]*)>/';
		return (string) preg_replace_callback(
			$pattern,
			static function ( $match ) use ( $extra ) {
				$attributes = $match[1];
				if ( ! preg_match( '/\sdefer(?=[\s=>]|$)/', $attributes ) ) {
					$attributes .= ' defer';
				}
				return '<script' . $attributes . $extra . '>';
			},
			$tag,
			1
		);
	}
}
