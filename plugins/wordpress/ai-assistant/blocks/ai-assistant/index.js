/**
 * The AI Assistant block in the editor: a placeholder, and the theme and position in the block's sidebar.
 *
 * Plain JavaScript on the editor's globals (no build step). The block is dynamic: the server renders it like the
 * [ai_assistant] shortcode, so save() stores nothing but the attributes.
 */
( function ( blocks, element, blockEditor, components, i18n ) {
	'use strict';

	var el = element.createElement;
	var __ = i18n.__;

	var themes = [
		{ value: '', label: __( 'Default (settings page)', 'ai-assistant' ) },
		{ value: 'light', label: __( 'Light', 'ai-assistant' ) },
		{ value: 'dark', label: __( 'Dark', 'ai-assistant' ) },
		{ value: 'auto', label: __( 'Automatic (follows the visitor’s system)', 'ai-assistant' ) },
	];
	var positions = [
		{ value: '', label: __( 'Default (settings page)', 'ai-assistant' ) },
		{ value: 'bottom-right', label: __( 'Bottom right', 'ai-assistant' ) },
		{ value: 'bottom-left', label: __( 'Bottom left', 'ai-assistant' ) },
		{ value: 'top-right', label: __( 'Top right', 'ai-assistant' ) },
		{ value: 'top-left', label: __( 'Top left', 'ai-assistant' ) },
	];

	function labelOf( list, value ) {
		for ( var i = 0; i < list.length; i++ ) {
			if ( list[ i ].value === value ) {
				return list[ i ].label;
			}
		}
		return list[ 0 ].label;
	}

	blocks.registerBlockType( 'ai-assistant/chat-widget', {
		edit: function ( props ) {
			var attributes = props.attributes;
			var blockProps = blockEditor.useBlockProps();

			return el(
				element.Fragment,
				null,
				el(
					blockEditor.InspectorControls,
					null,
					el(
						components.PanelBody,
						{ title: __( 'Appearance', 'ai-assistant' ) },
						el( components.SelectControl, {
							label: __( 'Theme', 'ai-assistant' ),
							value: attributes.theme,
							options: themes,
							onChange: function ( value ) {
								props.setAttributes( { theme: value } );
							},
						} ),
						el( components.SelectControl, {
							label: __( 'Position', 'ai-assistant' ),
							value: attributes.position,
							options: positions,
							onChange: function ( value ) {
								props.setAttributes( { position: value } );
							},
						} )
					)
				),
				el(
					'div',
					blockProps,
					el(
						components.Placeholder,
						{
							icon: 'format-chat',
							label: __( 'AI Assistant', 'ai-assistant' ),
							instructions: __(
								'The chat widget floats in a corner of this page for visitors. Choose its theme and position in the block settings.',
								'ai-assistant'
							),
						},
						el(
							'p',
							null,
							__( 'Theme:', 'ai-assistant' ) + ' ' + labelOf( themes, attributes.theme ) + ' · ' +
								__( 'Position:', 'ai-assistant' ) + ' ' + labelOf( positions, attributes.position )
						)
					)
				)
			);
		},
		save: function () {
			return null;
		},
	} );
} )( window.wp.blocks, window.wp.element, window.wp.blockEditor, window.wp.components, window.wp.i18n );
